#include "mlxft/eval/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/data/batching.h"
#include "mlxft/model/init.h"
#include "mlxft/objective/loss.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

Model tiny_model() {
  ModelConfig c = preset_config("tiny", 128);
  Model m;
  m.config = c;
  m.weights = random_weights(c, 5, mx::float32);
  m.dtype = mx::float32;
  return m;
}

// Examples of different lengths with partial masks, indices as if from lines 0, 2, 3, ...
std::vector<Example> examples() {
  std::vector<Example> out;
  const int lengths[] = {9, 4, 17, 6, 12};
  for (int i = 0; i < 5; ++i) {
    Example e;
    e.index = i == 0 ? 0 : i + 1;
    for (int t = 0; t < lengths[i]; ++t) {
      e.ids.push_back(1 + (t * 37 + i * 11) % 127);
      e.mask.push_back(t > lengths[i] / 2 ? 1 : 0);
    }
    out.push_back(e);
  }
  return out;
}

// The NLL sum of one example alone, unpadded: what batching and padding must not change.
double alone(const Model& m, const LoraAdapters* lora, const Example& e) {
  const Batch b = make_batch({e}, {0}, /*pad_multiple=*/1);
  ForwardOptions o;
  o.lora = lora;
  return masked_cross_entropy(forward(m, b.inputs, o), b.targets, b.mask).nll_sum.item<float>();
}

LoraAdapters adapters(const Model& m, bool zero_b) {
  LoraConfig c;
  c.rank = 4;
  c.targets = {"q_proj", "v_proj", "down_proj"};
  auto a = init_lora(m.config, c, 1);
  if (!zero_b) {
    for (auto& [path, pair] : a.modules)
      pair.b = mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(2));
  }
  return a;
}

TEST(Evaluate, TokenWeightedLossOverUnpaddedPerExampleSums) {
  const Model m = tiny_model();
  const auto ex = examples();
  const EvalResult r = evaluate(m, nullptr, ex, 2);
  ASSERT_EQ(r.per_example.size(), ex.size());
  double nll = 0.0;
  int64_t tokens = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    const auto& e = r.per_example[i];
    EXPECT_EQ(e.index, ex[i].index);  // input order
    EXPECT_EQ(e.tokens, ex[i].trained_tokens());
    EXPECT_NEAR(e.nll_sum, alone(m, nullptr, ex[i]), 1e-4 * std::max(1.0, e.nll_sum));
    nll += e.nll_sum;
    tokens += e.tokens;
  }
  EXPECT_EQ(r.tokens, tokens);
  EXPECT_NEAR(r.loss, nll / static_cast<double>(tokens), 1e-9);
  EXPECT_NEAR(r.perplexity, std::exp(r.loss), 1e-9 * r.perplexity);
  // A random model is close to uniform over its 128 tokens.
  EXPECT_NEAR(r.loss, std::log(128.0), 0.5);
}

TEST(Evaluate, BatchSizeDoesNotChangeTheResult) {
  const Model m = tiny_model();
  const EvalResult one = evaluate(m, nullptr, examples(), 1);
  const EvalResult all = evaluate(m, nullptr, examples(), 5);
  EXPECT_NEAR(one.loss, all.loss, 1e-5);
  for (size_t i = 0; i < one.per_example.size(); ++i) {
    EXPECT_NEAR(one.per_example[i].nll_sum, all.per_example[i].nll_sum, 1e-4);
  }
}

TEST(Evaluate, AdaptersAreApplied) {
  const Model m = tiny_model();
  const auto ex = examples();
  const double base = evaluate(m, nullptr, ex, 2).loss;
  const auto zero = adapters(m, true);
  EXPECT_NEAR(evaluate(m, &zero, ex, 2).loss, base, 1e-6);  // B = 0: no change
  const auto trained = adapters(m, false);
  const EvalResult r = evaluate(m, &trained, ex, 2);
  EXPECT_GT(std::abs(r.loss - base), 1e-3);
  EXPECT_NEAR(r.per_example[2].nll_sum, alone(m, &trained, ex[2]), 1e-4 * r.per_example[2].nll_sum);
}

TEST(Evaluate, NothingToEvaluateIsADataError) {
  const Model m = tiny_model();
  try {
    evaluate(m, nullptr, {}, 2);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Data);
  }
  auto ex = examples();
  for (auto& e : ex) std::fill(e.mask.begin(), e.mask.end(), 0);
  try {
    evaluate(m, nullptr, ex, 2);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Data);
    EXPECT_NE(std::string(e.what()).find("no example has a trained token"), std::string::npos) << e.what();
  }
}

// End to end through the binary: a tiny model with the real tokenizer, three chat records.
class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    MLXFT_REQUIRE_TOKENIZER();
    const auto r = test::init_tiny_model(model());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    test::write_file(
        data(),
        R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})"
        "\n"
        R"({"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]})"
        "\n"
        R"({"messages": [{"role": "user", "content": "Name a color."}, {"role": "assistant", "content": "Blue, like the sky."}]})"
        "\n");
  }
  fs::path model() const { return tmp_ / "tiny"; }
  fs::path data() const { return tmp_ / "data.jsonl"; }
  std::string eval_args() const {
    return "eval --model '" + model().string() + "' --data '" + data().string() + "'";
  }
  test::TempDir tmp_;
};

// The number after `label` in the eval output.
double value_of(const std::string& output, const std::string& label) {
  const auto pos = output.find(label);
  if (pos == std::string::npos) return NAN;
  return std::stod(output.substr(pos + label.size()));
}

TEST_F(EvalCli, PrintsLossAndWritesPerExampleLines) {
  const fs::path out = tmp_ / "per_example.jsonl";
  const auto r = test::run_mlxft(eval_args() + " --batch-size 2 --per-example '" + out.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const double loss = value_of(r.output, "loss");
  const double tokens = value_of(r.output, "trained tokens");
  EXPECT_EQ(value_of(r.output, "examples"), 3) << r.output;
  EXPECT_NEAR(loss, std::log(32768.0), 0.5) << r.output;  // random tiny model: near uniform
  EXPECT_NEAR(value_of(r.output, "perplexity"), std::exp(loss), 1e-3 * std::exp(loss)) << r.output;

  std::istringstream lines(test::read_file(out));
  std::string line;
  double nll = 0.0, count = 0.0;
  int64_t index = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["index"], index++);
    EXPECT_GT(j["tokens"].get<int>(), 0);
    nll += j["nll_sum"].get<double>();
    count += j["tokens"].get<double>();
  }
  EXPECT_EQ(index, 3);
  EXPECT_EQ(count, tokens);
  EXPECT_NEAR(nll / count, loss, 1e-5);
}

TEST_F(EvalCli, AdapterChangesTheLossAndBadAdaptersAreReported) {
  const ModelConfig config = ModelConfig::from_file(model() / "config.json");
  LoraConfig c;
  c.rank = 2;
  auto lora = init_lora(config, c, 0);
  const auto base = test::run_mlxft(eval_args());
  ASSERT_EQ(base.exit_code, 0) << base.output;

  save_adapter_mlx(lora, tmp_ / "zero", config.num_hidden_layers);  // B = 0
  const auto zero = test::run_mlxft(eval_args() + " --adapter '" + (tmp_ / "zero").string() + "'");
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  EXPECT_NEAR(value_of(zero.output, "loss"), value_of(base.output, "loss"), 1e-6);

  for (auto& [path, pair] : lora.modules) pair.b = mx::full(pair.b.shape(), 0.5f);
  save_adapter_peft(lora, tmp_ / "peft", model().string());
  const auto adapted = test::run_mlxft(eval_args() + " --adapter '" + (tmp_ / "peft").string() + "'");
  ASSERT_EQ(adapted.exit_code, 0) << adapted.output;
  EXPECT_GT(std::abs(value_of(adapted.output, "loss") - value_of(base.output, "loss")), 1e-3);

  const auto missing = test::run_mlxft(eval_args() + " --adapter '" + (tmp_ / "nope").string() + "'");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("model error"), std::string::npos) << missing.output;

  ModelConfig other = config;
  other.hidden_size = 32;
  save_adapter_peft(init_lora(other, c, 0), tmp_ / "other", "x");
  const auto wrong = test::run_mlxft(eval_args() + " --adapter '" + (tmp_ / "other").string() + "'");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("maps 32 -> "), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace mlxft
