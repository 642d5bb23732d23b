// The training loop on a bigram-table "model" (one [V, V] parameter): it learns, resumes bit for
// bit after an interruption, stops after repeated non-finite steps, early-stops, and writes the
// agreed metrics lines.
#include "mlxft/train/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "mlxft/train/checkpoint.h"
#include "mlxft/train/signals.h"
#include "mlxft/util/error.h"
#include "mlxft/util/prng.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace {

constexpr int kVocab = 7;
constexpr int kLen = 6;
constexpr int kExamples = 24;

// Example i: the sequence i, i+1, i+2, ... mod V (a bigram table learns it exactly). The loss applies
// a dropout drawn from the key, so that resume must reproduce the keys too.
mlxft::Batch toy_batch(const std::vector<int64_t>& rows) {
  std::vector<int32_t> in, tg;
  std::vector<float> m;
  for (int64_t r : rows) {
    int x = static_cast<int>(r % kVocab);
    for (int t = 0; t < kLen; ++t) {
      const int next = (x + 1) % kVocab;
      in.push_back(x);
      tg.push_back(next);
      m.push_back(t == 0 ? 0.0f : 1.0f);
      x = next;
    }
  }
  const int b = static_cast<int>(rows.size());
  mlxft::Batch batch;
  batch.inputs = mx::array(in.begin(), {b, kLen}, mx::int32);
  batch.targets = mx::array(tg.begin(), {b, kLen}, mx::int32);
  batch.mask = mx::array(m.begin(), {b, kLen}, mx::float32);
  return batch;
}

mlxft::LossSum toy_loss(const std::vector<mx::array>& p, const mlxft::Batch& b, const mx::array& key) {
  mx::array logits = mx::take(p[0], b.inputs, 0);
  // input dropout on the logits, p = 0.1, keyed by (seed, step, micro-batch)
  mx::array keep = mx::random::bernoulli(mx::array(0.9f), logits.shape(), key);
  logits = mx::multiply(logits, mx::divide(mx::astype(keep, mx::float32), mx::array(0.9f)));
  return mlxft::masked_cross_entropy(logits, b.targets, b.mask);
}

mlxft::EvalResult toy_eval(const std::vector<mx::array>& p) {
  std::vector<int64_t> rows(kExamples);
  for (int i = 0; i < kExamples; ++i) rows[static_cast<size_t>(i)] = i;
  mlxft::Batch b = toy_batch(rows);
  auto l = mlxft::masked_cross_entropy(mx::take(p[0], b.inputs, 0), b.targets, b.mask);
  const double loss = l.nll_sum.item<float>() / l.tokens.item<float>();
  return {loss, std::exp(loss), static_cast<int64_t>(l.tokens.item<float>()), {}, {}};
}

// The data order: a permutation of the examples drawn from util/prng.h with (seed 7, epoch), cut
// into micro-batches of 2, as data/batching.h BatchPlan does in the train command.
std::vector<std::vector<int64_t>> toy_epoch_batches(int64_t epoch) {
  std::vector<int64_t> order(kExamples);
  for (int i = 0; i < kExamples; ++i) order[static_cast<size_t>(i)] = i;
  mlxft::seeded_shuffle(order, mlxft::mix_seed(7, static_cast<uint64_t>(epoch)));
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i < order.size(); i += 2) batches.push_back({order[i], order[i + 1]});
  return batches;
}

mlxft::TrainerSettings settings(const fs::path& out) {
  mlxft::TrainerSettings s;
  s.num_train_examples = kExamples;
  s.batch_size = 2;
  s.accumulation_steps = 3;  // 12 micro-batches -> 4 steps per epoch
  s.num_epochs = 3;
  s.seed = 7;
  s.optimizer = {"adamw", 0.01};
  s.learning_rate = 0.3;
  s.warmup_steps = 2;
  s.logging_steps = 2;
  s.eval_steps = 4;
  s.save_steps = 3;
  s.save_total_limit = 2;
  s.output_dir = out;
  s.config_yaml = "toy: true\n";
  return s;
}

mlxft::TrainerHooks hooks() {
  mlxft::TrainerHooks h;
  h.loss = toy_loss;
  h.make_batch = toy_batch;
  h.epoch_batches = toy_epoch_batches;
  h.evaluate = toy_eval;
  return h;
}

std::vector<mx::array> init() {
  return {mx::zeros({kVocab, kVocab})};
}

std::vector<nlohmann::json> read_metrics(const fs::path& file) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(mlxft::test::read_file(file));
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

bool bit_equal(const mx::array& a, const mx::array& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  mx::array ca = mx::contiguous(a), cb = mx::contiguous(b);
  mx::eval(ca, cb);
  return std::memcmp(ca.data<float>(), cb.data<float>(), ca.nbytes()) == 0;
}

}  // namespace

TEST(TrainTrainer, LearnsAndWritesMetricsAndCheckpoints) {
  mlxft::test::TempDir tmp;
  mlxft::Trainer t(settings(tmp.path()), hooks(), {"w"}, init());
  const double initial = toy_eval(init()).loss;
  auto out = t.run();
  EXPECT_EQ(out.step, 12);
  ASSERT_TRUE(out.last_eval.has_value());
  EXPECT_LT(out.last_eval->loss, 0.5 * initial);
  auto lines = read_metrics(tmp / "metrics.jsonl");
  int train = 0, eval = 0;
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["type"], "eval");  // the baseline before the first update
  EXPECT_EQ(lines.front()["step"], 0);
  EXPECT_FALSE(lines.front()["best"].get<bool>());
  for (const auto& l : lines) {
    if (l["type"] == "train") {
      ++train;
      for (const char* k : {"step", "epoch", "train/loss", "train/learning_rate", "train/gradient_norm",
                            "train/tokens_per_second", "train/trained_tokens", "system/memory_gb",
                            "system/peak_memory_gb", "time_s"}) {
        EXPECT_TRUE(l.contains(k)) << k;
      }
    }
    if (l["type"] == "eval") {
      ++eval;
      EXPECT_NEAR(l["eval/perplexity"].get<double>(), std::exp(l["eval/loss"].get<double>()), 1e-6);
    }
  }
  EXPECT_EQ(train, 6);  // every 2 of 12 steps
  EXPECT_EQ(eval, 4);   // steps 0 (baseline), 4, 8, 12
  EXPECT_DOUBLE_EQ(lines.back()["epoch"].get<double>(), 3.0);
  // keep 2 newest + the best (the best is the last here)
  mlxft::CheckpointStore store(tmp / "checkpoints");
  std::vector<int64_t> steps;
  for (const auto& c : store.list()) steps.push_back(c.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{9, 12}));
  auto last = mlxft::CheckpointStore::load(tmp / "checkpoints" / "step-000012");
  EXPECT_TRUE(bit_equal(last.adapters.at("w"), t.params()[0]));
  EXPECT_EQ(last.state["epoch"], 3);
  EXPECT_EQ(last.state["best_step"], 12);
}

TEST(TrainTrainer, AfterStepHookRunsOncePerOptimizerStepAfterItsCheckpoint) {
  mlxft::test::TempDir tmp;
  auto h = hooks();
  std::vector<int64_t> seen;
  std::vector<bool> checkpoint_present;
  h.after_step = [&](int64_t step) {
    seen.push_back(step);
    char name[32];
    std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
    checkpoint_present.push_back(fs::exists(tmp / "checkpoints" / name));
  };
  mlxft::Trainer t(settings(tmp.path()), h, {"w"}, init());
  t.run();
  std::vector<int64_t> expected;
  for (int64_t i = 1; i <= 12; ++i) expected.push_back(i);
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(checkpoint_present.back());  // the last step's checkpoint exists when the hook runs
}

TEST(TrainTrainer, ResumeAfterSignalIsBitIdentical) {
  mlxft::test::TempDir a, b;
  mlxft::Trainer full(settings(a.path()), hooks(), {"w"}, init());
  full.run();

  // Interrupted run: a SIGTERM arrives during step 5 (while its 2nd micro-batch is built).
  {
    mlxft::StopSignals stop;
    int built = 0;
    auto h = hooks();
    h.make_batch = [&built](const std::vector<int64_t>& rows) {
      if (++built == 14) std::raise(SIGTERM);
      return toy_batch(rows);
    };
    mlxft::Trainer first(settings(b.path()), h, {"w"}, init());
    auto out = first.run({}, &stop);
    EXPECT_TRUE(out.stopped_by_signal);
    EXPECT_EQ(out.step, 5);
    EXPECT_EQ(out.last_checkpoint.filename(), "step-000005");
  }
  mlxft::Trainer resumed(settings(b.path()), hooks(), {"w"}, init());
  auto out = resumed.run("latest");
  EXPECT_EQ(out.step, 12);
  EXPECT_TRUE(bit_equal(resumed.params()[0], full.params()[0]));
  // metrics: the resumed file has the same kinds of lines at the same steps
  auto ma = read_metrics(a / "metrics.jsonl"), mb = read_metrics(b / "metrics.jsonl");
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i]["type"], mb[i]["type"]);
    EXPECT_EQ(ma[i]["step"], mb[i]["step"]);
    if (ma[i]["type"] == "eval") {
      EXPECT_EQ(ma[i]["eval/loss"], mb[i]["eval/loss"]);
    }
  }
  // resuming an explicit earlier checkpoint gives the same end too
  mlxft::Trainer again(settings(b.path()), hooks(), {"w"}, init());
  again.run((b / "checkpoints" / "step-000009").string());
  EXPECT_TRUE(bit_equal(again.params()[0], full.params()[0]));
}

TEST(TrainTrainer, NonFiniteStepsAreSkippedThenStopTheRun) {
  mlxft::test::TempDir tmp;
  int calls = 0;
  int nan_from = 0, nan_to = 0;  // micro-batch calls (1-based) whose loss is NaN
  auto h = hooks();
  h.loss = [&](const std::vector<mx::array>& p, const mlxft::Batch& b, const mx::array& key) {
    ++calls;
    auto l = toy_loss(p, b, key);
    if (calls >= nan_from && calls <= nan_to) {
      l.nll_sum = mx::multiply(l.nll_sum, mx::array(std::numeric_limits<float>::quiet_NaN()));
    }
    return l;
  };
  // Two bad steps (micro-batches 7..12 = steps 3 and 4) are skipped, and the run goes on.
  nan_from = 7;
  nan_to = 12;
  {
    mlxft::Trainer t(settings(tmp.path()), h, {"w"}, init());
    auto out = t.run();
    EXPECT_EQ(out.step, 12);
    int skips = 0;
    for (const auto& l : read_metrics(tmp / "metrics.jsonl")) {
      if (l["type"] == "skip") {
        ++skips;
        EXPECT_EQ(l["reason"], "nan loss");
      }
    }
    EXPECT_EQ(skips, 2);
  }
  // Three in a row (steps 4, 5, 6) stop the run. The latest checkpoint is that of step 4 (written
  // after its evaluation; the skipped step left the weights of step 3), finite and intact.
  mlxft::test::TempDir tmp2;
  calls = 0;
  nan_from = 10;
  nan_to = 1000;
  mlxft::Trainer t(settings(tmp2.path()), h, {"w"}, init());
  try {
    t.run();
    FAIL() << "expected a Training error";
  } catch (const mlxft::Error& e) {
    EXPECT_EQ(e.kind(), mlxft::ErrorKind::Training);
    EXPECT_NE(std::string(e.what()).find("3 non-finite steps in a row"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("step-000004"), std::string::npos) << e.hint();
  }
  mlxft::CheckpointStore store(tmp2 / "checkpoints");
  auto latest = store.load_latest_valid();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->first.step, 4);
  auto arr = latest->second.adapters.at("w");
  EXPECT_TRUE(mx::all(mx::isfinite(arr)).item<bool>());
}

TEST(TrainTrainer, EarlyStoppingAfterPatience) {
  mlxft::test::TempDir tmp;
  auto s = settings(tmp.path());
  s.eval_steps = 1;
  s.early_stopping_patience = 2;
  auto h = hooks();
  int evals = 0;
  h.evaluate = [&evals](const std::vector<mx::array>&) {
    ++evals;
    const double loss = evals == 1 ? 1.0 : 1.0 + 0.1 * evals;  // never improves after the first
    return mlxft::EvalResult{loss, std::exp(loss), 10, {}, {}};
  };
  mlxft::Trainer t(s, h, {"w"}, init());
  auto out = t.run();
  EXPECT_TRUE(out.early_stopped);
  EXPECT_EQ(out.step, 3);
  EXPECT_EQ(out.best_step, 1);
  // the best checkpoint survives rotation
  EXPECT_TRUE(fs::exists(tmp / "checkpoints" / "step-000001"));
}

TEST(TrainTrainer, RefusesToRunWithoutADataOrder) {
  auto h = hooks();
  h.epoch_batches = nullptr;
  mlxft::test::TempDir tmp;
  EXPECT_THROW(mlxft::Trainer(settings(tmp.path()), h, {"w"}, init()), mlxft::Error);
}

TEST(TrainTrainer, StepCountsAndWarmupRatio) {
  mlxft::TrainerSettings s;
  s.num_train_examples = 900;
  s.batch_size = 2;
  s.accumulation_steps = 4;
  s.num_epochs = 3;
  EXPECT_EQ(s.steps_per_epoch(), 113);  // the seed's numbers: 450 micro-batches -> 113 steps
  EXPECT_EQ(s.total_steps(), 339);
  s.warmup_ratio = 0.1;
  EXPECT_EQ(s.schedule().warmup_steps, 34);
  s.max_steps = 50;
  EXPECT_EQ(s.total_steps(), 50);
}

namespace {

// A metrics sink that keeps what it is given, as "type:step" strings (resume: "resume:step").
class RecordingSink final : public mlxft::MetricsSink {
 public:
  std::vector<std::string> seen;
  void on_train(const mlxft::TrainMetrics& m) override { seen.push_back("train:" + std::to_string(m.step)); }
  void on_eval(const mlxft::EvalMetrics& m) override { seen.push_back("eval:" + std::to_string(m.step)); }
  void on_skip(const mlxft::SkipMetrics& m) override { seen.push_back("skip:" + std::to_string(m.step)); }
  void on_resume(int64_t step) override { seen.push_back("resume:" + std::to_string(step)); }
};

std::vector<std::string> jsonl_records(const fs::path& file) {
  std::vector<std::string> out;
  for (const auto& l : read_metrics(file))
    out.push_back(l["type"].get<std::string>() + ":" + std::to_string(l["step"].get<int64_t>()));
  return out;
}

}  // namespace

TEST(TrainTrainer, MetricsSinksGetTheRecordsOfMetricsJsonlAndTheResume) {
  mlxft::test::TempDir a, b;
  auto sink = std::make_shared<RecordingSink>();
  auto h = hooks();
  h.metrics_sinks = {sink};
  mlxft::Trainer full(settings(a.path()), h, {"w"}, init());
  full.run();
  EXPECT_EQ(sink->seen, jsonl_records(a / "metrics.jsonl"));

  // Resumed from step 9: the sink hears of it, then gets the records of steps 10-12 again.
  mlxft::Trainer first(settings(b.path()), hooks(), {"w"}, init());
  first.run();
  auto again = std::make_shared<RecordingSink>();
  h.metrics_sinks = {again};
  mlxft::Trainer resumed(settings(b.path()), h, {"w"}, init());
  resumed.run((b / "checkpoints" / "step-000009").string());
  std::vector<std::string> expected = {"resume:9"};
  for (const auto& r : jsonl_records(b / "metrics.jsonl")) {
    if (std::stoll(r.substr(r.find(':') + 1)) > 9) expected.push_back(r);
  }
  EXPECT_EQ(again->seen, expected);
  EXPECT_EQ(jsonl_records(b / "metrics.jsonl"), jsonl_records(a / "metrics.jsonl"));
}
