// Parity with the current transformers (5.x) for both config.json forms and
// for RoPE scaling (llama3, linear): golden logits written by
// scripts/reference/hf_logits_v5.py from tiny random Llama models. Each test
// also checks that the golden depends on what it tests: the same weights with
// plain RoPE (or rope_theta 10000, the old bug) give clearly different logits.
#include <gtest/gtest.h>

#include <functional>

#include "mlxft/model/llama.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

std::filesystem::path golden(const std::string& sub) {
  return test::source_dir() / "tests" / "golden" / "hf_v5" / sub;
}

// Max |mlxft - transformers| over the three sequences, and max |transformers| (to show scale).
void expect_matches(const Model& model, const std::string& sub) {
  const auto g = mx::load_safetensors((golden(sub) / "logits.safetensors").string()).first;
  for (int i = 0; i < 3; ++i) {
    const mx::array expected = g.at("logits_" + std::to_string(i));
    const mx::array logits = forward(model, g.at("tokens_" + std::to_string(i)));
    ASSERT_EQ(logits.shape(), expected.shape()) << sub << " sequence " << i;
    EXPECT_LT(max_abs_diff(logits, expected), 1e-4f) << sub << " sequence " << i;
    EXPECT_GT(mx::max(mx::abs(expected)).item<float>(), 0.5f);
  }
}

// The longest golden sequence's logits move by more than 0.1 (of max ~3) once `change` is applied.
void expect_sensitive(Model model, const std::string& sub, const std::function<void(ModelConfig&)>& change) {
  const auto g = mx::load_safetensors((golden(sub) / "logits.safetensors").string()).first;
  change(model.config);
  EXPECT_GT(max_abs_diff(forward(model, g.at("tokens_2")), g.at("logits_2")), 0.1f) << sub;
}

TEST(RopeParity, Transformers5DefaultRopeParameters) {
  const Model m = load_model(golden("v5_default"), mx::float32);
  EXPECT_EQ(m.config.form, ConfigForm::Transformers5);
  EXPECT_FLOAT_EQ(m.config.rope_theta, 5e5f);
  expect_matches(m, "v5_default");
  expect_sensitive(m, "v5_default", [](ModelConfig& c) { c.rope_theta = 10000.0f; });
}

TEST(RopeParity, Transformers5Llama3Scaling) {
  const Model m = load_model(golden("v5_llama3"), mx::float32);
  EXPECT_EQ(m.config.rope_scaling.type, "llama3");
  expect_matches(m, "v5_llama3");
  expect_sensitive(m, "v5_llama3", [](ModelConfig& c) { c.rope_scaling = {}; });
}

TEST(RopeParity, Transformers5LinearScaling) {
  const Model m = load_model(golden("v5_linear"), mx::float32);
  EXPECT_EQ(m.config.rope_scaling.type, "linear");
  expect_matches(m, "v5_linear");
  expect_sensitive(m, "v5_linear", [](ModelConfig& c) { c.rope_scaling = {}; });
}

TEST(RopeParity, ClassicConfigWithLlama3Scaling) {
  const Model m = load_model(golden("classic_llama3"), mx::float32);
  EXPECT_EQ(m.config.form, ConfigForm::Classic);
  EXPECT_EQ(m.config.rope_scaling.original_max_position_embeddings, 64);
  expect_matches(m, "classic_llama3");
  expect_sensitive(m, "classic_llama3", [](ModelConfig& c) { c.rope_scaling = {}; });
  // A KV cache fed one token at a time applies the same scaled rotation.
  const auto g = mx::load_safetensors((golden("classic_llama3") / "logits.safetensors").string()).first;
  const mx::array tokens = g.at("tokens_2");
  KVCache cache;
  std::vector<mx::array> parts = {forward(m, mx::slice(tokens, {0, 0}, {1, 30}), {}, &cache)};
  for (int t = 30; t < tokens.shape(1); ++t)
    parts.push_back(forward(m, mx::slice(tokens, {0, t}, {1, t + 1}), {}, &cache));
  EXPECT_LT(max_abs_diff(mx::concatenate(parts, 1), g.at("logits_2")), 1e-4f);
}

}  // namespace
}  // namespace mlxft
