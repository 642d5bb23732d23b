// `mlxft train` end to end on a tiny random Mistral-shaped model (hidden 64, 2 layers) and a small
// learnable dataset (64 "count on from N" conversations): the validation loss falls clearly; a run
// stopped by SIGTERM and resumed ends with adapters bit-identical to an uninterrupted run; a run
// killed with SIGKILL while it writes checkpoints resumes from a valid one and ends identical too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/util/device.h"
#include "support/test_support.h"
#include "train/train_e2e_util.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace {

using namespace mlxft::test::e2e;

const char* kShortRun =
    "  max_steps: 12\n  batch_size: 4\n  gradient_accumulation_steps: 2\n  learning_rate: 5.0e-3\n"
    "  warmup_steps: 2\n  logging_steps: 2\n  eval_steps: 6\n  save_steps: 2\n  seed: 5\n";

void expect_bit_identical(const fs::path& a, const fs::path& b) {
  auto x = final_arrays(a), y = final_arrays(b);
  ASSERT_EQ(x.size(), y.size());
  ASSERT_FALSE(x.empty());
  for (auto& [name, arr] : x) {
    mx::array p = mx::contiguous(arr), q = mx::contiguous(y.at(name));
    mx::eval(p, q);
    ASSERT_EQ(p.nbytes(), q.nbytes()) << name;
    EXPECT_EQ(std::memcmp(p.data<char>(), q.data<char>(), p.nbytes()), 0) << name << " differs";
  }
}

bool has_checkpoint(const fs::path& run) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run / "checkpoints", ec)) {
    if (std::regex_match(e.path().filename().string(), std::regex("step-[0-9]+"))) return true;
  }
  return false;
}

bool wait_for_checkpoint(const fs::path& run) {
  for (int i = 0; i < 6000 && !has_checkpoint(run); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return has_checkpoint(run);
}

}  // namespace

TEST(TrainE2E, ValidationLossFallsOnLearnableData) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run",
                                       "  num_epochs: 5\n  batch_size: 4\n  gradient_accumulation_steps: 1\n"
                                       "  learning_rate: 1.0e-2\n  warmup_steps: 5\n  logging_steps: 10\n"
                                       "  eval_steps: 20\n  save_steps: 40\n");
  auto before = mlxft::test::run_mlxft("train --config " + recipe.string() + " --eval-only");
  ASSERT_EQ(before.exit_code, 0) << before.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(before.output, m, std::regex("validation: +loss ([0-9.]+)")))
      << before.output;
  const double initial = std::stod(m[1]);

  auto run = mlxft::test::run_mlxft("train --config " + recipe.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::cout << run.output.substr(0, run.output.find("step 10/")) << "\n";  // the run summary, for the log
  EXPECT_NE(run.output.find("trainable"), std::string::npos);
  // the recipe leaves system.device at auto: the summary says what auto chose on this build
  EXPECT_NE(run.output.find("device:      " + mlxft::describe_device(mlxft::resolve_device(
                                                  "auto", "system.device", mlxft::this_build()))),
            std::string::npos)
      << run.output;
  double final_loss = -1;
  int64_t last_step = 0;
  std::istringstream lines(mlxft::test::read_file(dir / "run" / "metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "eval") final_loss = j["eval/loss"].get<double>();
    last_step = j["step"].get<int64_t>();
  }
  EXPECT_EQ(last_step, 70);  // 56 train examples / 4 = 14 steps per epoch x 5
  ASSERT_GT(final_loss, 0);
  EXPECT_LT(final_loss, 0.7 * initial) << "initial " << initial << " final " << final_loss;
  std::cout << "validation loss: initial " << initial << ", final " << final_loss << "\n";
  for (const char* f : {"final_model/peft/adapter_config.json", "final_model/peft/adapter_model.safetensors",
                        "final_model/mlx/adapters.safetensors", "final_model/mlx/adapter_config.json",
                        "effective_config.yaml", "checkpoints/step-000070/MANIFEST"}) {
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  }
  // The final adapter reloads to the same validation loss.
  auto after = mlxft::test::run_mlxft("train --config " + recipe.string() + " --eval-only --init-adapter " +
                                      (dir / "run" / "final_model" / "peft").string());
  ASSERT_TRUE(std::regex_search(after.output, m, std::regex("validation: +loss ([0-9.]+)"))) << after.output;
  EXPECT_NEAR(std::stod(m[1]), final_loss, 1e-3);
}

TEST(TrainE2E, SigtermThenResumeIsBitIdentical) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path full = write_recipe(dir, "full", kShortRun);
  auto a = mlxft::test::run_mlxft("train --config " + full.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;

  const fs::path cut = write_recipe(dir, "cut", kShortRun);
  // SIGTERM raised by the run itself once step 3 is done (a test hook), so the stop never races.
  const auto stopped =
      mlxft::test::run_command("MLXFT_TEST_SIGTERM_AFTER_STEP=3 '" + mlxft::test::mlxft_binary().string() +
                               "' train --config " + cut.string());
  const std::string& log = stopped.output;
  ASSERT_EQ(stopped.exit_code, 143) << log;
  EXPECT_NE(log.find("stopped by signal 15 at step 3"), std::string::npos) << log;
  EXPECT_NE(log.find("--resume latest"), std::string::npos) << log;

  auto b = mlxft::test::run_mlxft("train --config " + cut.string() + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("resumed from"), std::string::npos) << b.output;
  expect_bit_identical(dir / "full", dir / "cut");
}

// The "train/<kto metric>" and "train/loss" numbers of every train line, in order.
std::vector<double> kto_numbers(const fs::path& run) {
  std::vector<double> out;
  std::istringstream lines(mlxft::test::read_file(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] != "train") continue;
    for (const char* key : {"train/loss", "train/kl", "train/rewards_chosen", "train/rewards_rejected"})
      out.push_back(j[key].get<double>());
  }
  return out;
}

const char* kKtoRun =
    "  objective: kto\n  max_steps: 8\n  batch_size: 4\n  gradient_accumulation_steps: 2\n"
    "  learning_rate: 5.0e-3\n  warmup_steps: 1\n  logging_steps: 2\n  eval_steps: 4\n  save_steps: 2\n"
    "  seed: 5\n";

// KTO through the whole train command: its metrics reach metrics.jsonl (train/kl, rewards...) and the
// validation loss per label, and a run stopped by SIGTERM resumes to bit-identical adapters.
TEST(TrainE2E, KtoLogsItsMetricsAndResumesBitIdentical) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const std::string labels_all = "  labels: all\n";
  const fs::path full = write_recipe(dir, "full", kKtoRun, labels_all);
  auto a = mlxft::test::run_mlxft("train --config " + full.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  int train_lines = 0, eval_lines = 0;
  std::istringstream lines(mlxft::test::read_file(dir / "full" / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") {
      ++train_lines;
      for (const char* key : {"train/kto_loss", "train/kl", "train/rewards_chosen", "train/rewards_rejected",
                              "train/rewards_margin"}) {
        ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << " missing in " << line;
      }
      EXPECT_GE(j["train/kl"].get<double>(), 0.0);  // clamped
      EXPECT_NEAR(j["train/loss"].get<double>(), j["train/kto_loss"].get<double>(), 1e-6);
      EXPECT_LT(j["train/loss"].get<double>(), 2.5);  // a KTO loss (weights 1), not a token cross-entropy
    } else if (j["type"] == "eval") {
      ++eval_lines;
      EXPECT_TRUE(j.contains("eval/loss_desirable") && j.contains("eval/loss_undesirable")) << line;
      EXPECT_DOUBLE_EQ(j["eval/loss"].get<double>(), j["eval/loss_desirable"].get<double>());
    }
  }
  EXPECT_EQ(train_lines, 4);
  EXPECT_EQ(eval_lines, 3);  // before training, at step 4 and at step 8

  const fs::path cut = write_recipe(dir, "cut", kKtoRun, labels_all);
  const auto stopped =
      mlxft::test::run_command("MLXFT_TEST_SIGTERM_AFTER_STEP=3 '" + mlxft::test::mlxft_binary().string() +
                               "' train --config " + cut.string());
  ASSERT_EQ(stopped.exit_code, 143) << stopped.output;
  auto b = mlxft::test::run_mlxft("train --config " + cut.string() + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_bit_identical(dir / "full", dir / "cut");
  // The resumed run logs the same KTO numbers (the step-3 stop falls inside the logging window 3-4).
  EXPECT_EQ(kto_numbers(dir / "full"), kto_numbers(dir / "cut"));
}

// A DoRA recipe as write_recipe() writes it, on the base quantized to 4 bits at load (QDoRA).
fs::path write_qdora_recipe(const mlxft::test::TempDir& dir, const std::string& name) {
  const fs::path recipe = write_recipe(dir, name, kShortRun);
  std::string yaml = mlxft::test::read_file(recipe);
  yaml = std::regex_replace(yaml, std::regex("lora:\n"), "lora:\n  kind: dora\n");
  yaml = std::regex_replace(yaml, std::regex("  dtype: float32\n"),
                            "  dtype: float32\n  quantize: {bits: 4, group_size: 32}\n");
  mlxft::test::write_file(recipe, yaml);
  return recipe;
}

// DoRA on a quantized base through the train command: the magnitudes train (they leave the base's row
// norms) and are exported beside A and B, and a run stopped by SIGTERM resumes to bit-identical
// adapters (the magnitudes are in the checkpoints and the optimizer state like A and B).
TEST(TrainE2E, QdoraTrainsItsMagnitudesAndResumesBitIdentical) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path full = write_qdora_recipe(dir, "full");
  auto a = mlxft::test::run_mlxft("train --config " + full.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto config = nlohmann::json::parse(
      mlxft::test::read_file(dir / "full" / "final_model" / "peft" / "adapter_config.json"));
  EXPECT_EQ(config["use_dora"], true);
  EXPECT_EQ(nlohmann::json::parse(mlxft::test::read_file(dir / "full" / "final_model" / "mlx" /
                                                         "adapter_config.json"))["fine_tune_type"],
            "dora");
  const auto arrays = final_arrays(dir / "full");
  EXPECT_EQ(arrays.size(), 2u * 7u * 3u);  // 2 layers x 7 projections x (A, B, magnitude)
  // The magnitudes moved: the first layer's q_proj magnitude is not its (dequantized) row norms.
  mlxft::Model base = mlxft::load_model(tiny_model(), mx::float32, mlxft::QuantSpec{4, 32});
  const std::string q = "model.layers.0.self_attn.q_proj";
  const mx::array norms = mx::sqrt(mx::sum(
      mx::square(mlxft::dequantize_module(base.weights, q, base.quantization.at(q), mx::float32)), 1));
  const mx::array& m = arrays.at("base_model.model." + q + ".lora_magnitude_vector");
  ASSERT_EQ(m.shape(), norms.shape());
  EXPECT_GT(mx::max(mx::abs(mx::subtract(m, norms))).item<float>(), 1e-4f);
  EXPECT_LT(mx::max(mx::abs(mx::subtract(m, norms))).item<float>(), 0.5f * mx::max(norms).item<float>());

  const fs::path cut = write_qdora_recipe(dir, "cut");
  const auto stopped =
      mlxft::test::run_command("MLXFT_TEST_SIGTERM_AFTER_STEP=3 '" + mlxft::test::mlxft_binary().string() +
                               "' train --config " + cut.string());
  ASSERT_EQ(stopped.exit_code, 143) << stopped.output;
  auto b = mlxft::test::run_mlxft("train --config " + cut.string() + " --resume");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_bit_identical(dir / "full", dir / "cut");
}

// Data without undesirable examples cannot serve KTO: one configuration error before training.
TEST(TrainE2E, KtoOnDataWithoutUndesirableExamplesIsAConfigError) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kKtoRun);  // the unlabelled data, data.labels default
  auto refused = mlxft::test::run_mlxft("train --config " + recipe.string());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("set data.labels: all"), std::string::npos) << refused.output;
  mlxft::test::write_file(recipe,
                          std::regex_replace(mlxft::test::read_file(recipe), std::regex("min_examples"),
                                             "labels: all\n  min_examples"));
  auto no_bad = mlxft::test::run_mlxft("train --config " + recipe.string());
  EXPECT_NE(no_bad.exit_code, 0);
  EXPECT_NE(no_bad.output.find("training.objective"), std::string::npos) << no_bad.output;
  EXPECT_NE(no_bad.output.find("0 undesirable"), std::string::npos) << no_bad.output;
  EXPECT_FALSE(fs::exists(dir / "run" / "metrics.jsonl"));
}

TEST(TrainE2E, SigkillDuringCheckpointWritesRecovers) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  // save every step, so the process is killed while it writes checkpoints
  std::string every_step = kShortRun;
  every_step = std::regex_replace(every_step, std::regex("save_steps: 2"), "save_steps: 1");
  const fs::path full = write_recipe(dir, "full", every_step);
  auto a = mlxft::test::run_mlxft("train --config " + full.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;

  const fs::path killed = write_recipe(dir, "killed", every_step);
  const pid_t pid = spawn_train(killed, dir / "killed.log");
  ASSERT_TRUE(wait_for_checkpoint(dir / "killed"));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);

  // Every published checkpoint verifies (a torn write can only be a .tmp-* directory).
  mlxft::CheckpointStore store(dir / "killed" / "checkpoints");
  for (const auto& c : store.list()) EXPECT_EQ(mlxft::CheckpointStore::verify(c.dir), "") << c.dir;

  auto b = mlxft::test::run_mlxft("train --config " + killed.string() + " --resume latest");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_bit_identical(dir / "full", dir / "killed");
  for (const auto& e : fs::directory_iterator(store.root())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST(TrainE2E, ExistingOutputDirIsRefusedWithoutResumeOrOverwrite) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kShortRun);
  fs::create_directories(dir / "run");
  mlxft::test::write_file(dir / "run" / "something", "x");
  auto r = mlxft::test::run_mlxft("train --config " + recipe.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("output.output_dir"), std::string::npos) << r.output;
}

TEST(TrainE2E, ASecondRunIntoTheSameOutputDirIsRefusedWhileTheFirstHoldsIt) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kShortRun);
  fs::create_directories(dir / "run");
  // Stand in for a running trainer: hold the run lock the way mlxft train does.
  const int fd = ::open((dir / "run" / ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto busy = mlxft::test::run_mlxft("train --config " + recipe.string());
  EXPECT_EQ(busy.exit_code, 1) << busy.output;
  EXPECT_NE(busy.output.find("another mlxft run is using this output directory"), std::string::npos)
      << busy.output;
  EXPECT_FALSE(fs::exists(dir / "run" / "metrics.jsonl"));  // nothing was written into the busy run
  ::close(fd);
  // Released (as when the first process ends, even by kill -9): the run proceeds; the lock file
  // alone does not make the directory count as an earlier run.
  auto free = mlxft::test::run_mlxft("train --config " + recipe.string());
  EXPECT_EQ(free.exit_code, 0) << free.output;
}

TEST(TrainE2E, ATestSplitIsEvaluatedAtTheEnd) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", "  max_steps: 2\n  batch_size: 4\n  eval_steps: 2\n");
  auto r = mlxft::test::run_mlxft("train --config " + recipe.string() + " --set data.test_split=0.125");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("test: loss"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("on 8 examples"), std::string::npos) << r.output;  // 64 x 0.125
}

// evaluation.tool_calls: every eval line, the step-0 baseline included, carries the tool-call
// metrics of the first two validation conversations (each: a call turn and a reply turn).
TEST(TrainE2E, ToolCallMetricsAreLoggedAtEveryEvaluation) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  std::string data;
  for (int i = 0; i < 16; ++i) {
    data += nlohmann::json{{"conversations",
                            {{{"role", "user"}, {"content", "Read note " + std::to_string(i)}},
                             {{"role", "assistant"},
                              {"content", "tool_call: readNote\narguments: {\"n\": " + std::to_string(i) +
                                              "}\n\nResult: {\"ok\": true}\n\nDone."}}}}}
                .dump() +
            "\n";
  }
  mlxft::test::write_file(dir / "data.jsonl", data);  // write_recipe keeps an existing data.jsonl
  const fs::path recipe = write_recipe(dir, "run", kShortRun);
  auto r = mlxft::test::run_mlxft("train --config " + recipe.string() +
                                  " --set evaluation.tool_calls=true --set evaluation.tool_call_examples=2"
                                  " --set evaluation.tool_call_max_new_tokens=4 --set training.max_steps=6"
                                  " --set data.max_seq_length=256");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(mlxft::test::read_file(dir / "run" / "metrics.jsonl"));
  std::vector<int64_t> steps;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] != "eval") continue;
    steps.push_back(j["step"].get<int64_t>());
    EXPECT_EQ(j["eval/tool_turns"], 4) << line;
    EXPECT_EQ(j["eval/tool_call_turns"], 2) << line;
    for (const char* key : {"eval/tool_name_accuracy", "eval/tool_arguments_exact",
                            "eval/tool_valid_call_rate", "eval/tool_no_call_accuracy", "eval/tool_arguments_match",
                            "eval/tool_argument_accuracy"}) {
      ASSERT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << line;
      EXPECT_GE(j[key].get<double>(), 0.0);
      EXPECT_LE(j[key].get<double>(), 1.0);
    }
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 6}));
}

TEST(TrainE2E, OutputExportChoosesWhatFinalModelReceives) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", "  max_steps: 2\n  batch_size: 4\n  eval_steps: 2\n");
  auto r = mlxft::test::run_mlxft("train --config " + recipe.string() +
                                  " --set 'output.export=[mlx, fused, gguf, gguf-lora]'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(mlx/, fused/, model.gguf, adapter.gguf)"), std::string::npos) << r.output;
  const fs::path final_dir = dir / "run" / "final_model";
  EXPECT_FALSE(fs::exists(final_dir / "peft"));
  for (const char* f : {"mlx/adapters.safetensors", "fused/config.json", "fused/model.safetensors",
                        "model.gguf", "model.Modelfile", "adapter.gguf", "adapter.Modelfile"}) {
    EXPECT_TRUE(fs::exists(final_dir / f)) << f;
  }
  // The fused directory and the f16 GGUF hold the same model.
  const mx::array ids = mx::array({1, 17, 300, 9}, {1, 4}, mx::int32);
  const mx::array a = mlxft::forward(mlxft::load_model(final_dir / "fused", mx::float32), ids);
  const mx::array b = mlxft::forward(mlxft::load_model(final_dir / "model.gguf", mx::float32), ids);
  EXPECT_LT(mx::max(mx::abs(a - b)).item<float>(), 1e-2f);
}

TEST(TrainE2E, SamplesAreWrittenAndMemoryLimitIsEnforced) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kShortRun);
  auto r = mlxft::test::run_mlxft("train --config " + recipe.string() +
                                  " --set evaluation.generate_samples=true --set evaluation.num_samples=2"
                                  " --set evaluation.max_new_tokens=4 --set training.max_steps=6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(mlxft::test::read_file(dir / "run" / "samples.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["step"], 6);
    EXPECT_NE(j["prompt"].get<std::string>().find("Count on from"), std::string::npos) << line;
    ++n;
  }
  EXPECT_EQ(n, 2);  // one evaluation (step 6), two samples

  auto tight =
      mlxft::test::run_mlxft("train --config " + recipe.string() +
                             " --set system.memory_limit_gb=0.001 --set output.overwrite_output_dir=true");
  EXPECT_EQ(tight.exit_code, 1) << tight.output;
  EXPECT_NE(tight.output.find("memory"), std::string::npos) << tight.output;
  auto forced = mlxft::test::run_mlxft("train --config " + recipe.string() +
                                       " --set system.memory_limit_gb=0.001 --set system.force=true"
                                       " --set output.overwrite_output_dir=true --set training.max_steps=2");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
}
