// The forward pass: parity with transformers (golden logits written by
// scripts/reference/hf_logits.py), KV-cache consistency, and gradients with
// respect to the LoRA adapters (against finite differences, with and without
// layer checkpointing), LoRA dropout determinism.
#include "mlxft/model/family.h"
#include "mlxft/model/llama.h"

#include <gtest/gtest.h>

#include "mlxft/model/init.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

// A random tiny model in memory (no files): hidden 64, 2 layers, 4 heads, 2 KV heads.
Model tiny_model(int vocab = 256, uint64_t seed = 7) {
  Model m;
  m.config = preset_config("tiny", vocab);
  m.weights = random_weights(m.config, seed, mx::float32);
  m.dtype = mx::float32;
  return m;
}

void check_golden(const std::string& sub) {
  const auto dir = test::source_dir() / "tests" / "golden" / "hf_tiny" / sub;
  const Model model = load_model(dir, mx::float32);
  const auto golden = mx::load_safetensors((dir / "logits.safetensors").string()).first;
  for (int i = 0; i < 3; ++i) {
    const mx::array tokens = golden.at("tokens_" + std::to_string(i));
    const mx::array expected = golden.at("logits_" + std::to_string(i));
    const mx::array logits = forward(model, tokens);
    ASSERT_EQ(logits.shape(), expected.shape()) << sub << " sequence " << i;
    EXPECT_LT(max_abs_diff(logits, expected), 1e-4f)
        << sub << " sequence " << i << " of length " << tokens.shape(1);
    // The reference logits are not trivially small: the bound above means something.
    EXPECT_GT(mx::max(mx::abs(expected)).item<float>(), 0.05f);
  }
}

TEST(LlamaForward, MatchesTransformersMistralGqaUntied) {
  check_golden("mistral");
}

TEST(LlamaForward, MatchesTransformersLlamaTiedExplicitHeadDim) {
  check_golden("llama_tied");
}

TEST(LlamaForward, KvCacheMatchesFullRecompute) {
  const Model m = tiny_model();
  const mx::array tokens = mx::random::randint(0, 256, {2, 12}, mx::int32, mx::random::key(3));
  const mx::array full = forward(m, tokens);

  // Prompt in two multi-token chunks (the second one at a non-zero offset), then one token at a time.
  KVCache cache;
  std::vector<mx::array> parts;
  parts.push_back(forward(m, mx::slice(tokens, {0, 0}, {2, 5}), {}, &cache));
  parts.push_back(forward(m, mx::slice(tokens, {0, 5}, {2, 9}), {}, &cache));
  for (int t = 9; t < 12; ++t) parts.push_back(forward(m, mx::slice(tokens, {0, t}, {2, t + 1}), {}, &cache));
  EXPECT_EQ(cache.offset, 12);
  EXPECT_LT(max_abs_diff(mx::concatenate(parts, 1), full), 1e-4f);
}

// The cache grows in steps of 256 positions: a prompt ending just before a step's end, then tokens
// one at a time across two boundaries (and a chunk that crosses one), give the full pass's logits, and
// the buffers keep room beyond the offset.
TEST(LlamaForward, KvCacheAcrossItsGrowthStepsMatchesFullRecompute) {
  const Model m = tiny_model();
  const int n = 530;
  const mx::array tokens = mx::random::randint(0, 256, {1, n}, mx::int32, mx::random::key(8));
  const mx::array full = forward(m, tokens);
  KVCache cache;
  std::vector<mx::array> parts;
  parts.push_back(forward(m, mx::slice(tokens, {0, 0}, {1, 254}), {}, &cache));
  for (int t = 254; t < 260; ++t) parts.push_back(forward(m, mx::slice(tokens, {0, t}, {1, t + 1}), {}, &cache));
  parts.push_back(forward(m, mx::slice(tokens, {0, 260}, {1, 510}), {}, &cache));  // crosses 512
  for (int t = 510; t < n; ++t) {
    parts.push_back(forward(m, mx::slice(tokens, {0, t}, {1, t + 1}), {}, &cache));
    mx::eval(parts.back());
  }
  EXPECT_EQ(cache.offset, n);
  EXPECT_EQ(cache.keys[0].shape(2), 768);
  EXPECT_LT(max_abs_diff(mx::concatenate(parts, 1), full), 1e-4f);
}

TEST(LlamaForward, LoraZeroBIsIdentityAndNonZeroBChangesLogits) {
  const Model m = tiny_model();
  LoraConfig lc;
  lc.targets = family_lora_targets(m.config);
  LoraAdapters lora = init_lora(m.config, lc, 1);
  const mx::array tokens = mx::random::randint(0, 256, {1, 6}, mx::int32, mx::random::key(4));
  ForwardOptions o;
  o.lora = &lora;
  EXPECT_LT(max_abs_diff(forward(m, tokens, o), forward(m, tokens)), 1e-6f);

  // y = x W^T + scale * x A^T B^T: with B non-zero on one module the output must move.
  auto& pair = lora.modules.at("model.layers.1.mlp.down_proj");
  pair.b = mx::random::normal(pair.b.shape(), mx::float32, 0.0f, 0.1f, mx::random::key(5));
  EXPECT_GT(max_abs_diff(forward(m, tokens, o), forward(m, tokens)), 1e-3f);
}

// Sum of logits times a fixed random projection: a scalar that depends on every logit.
mx::array scalar_loss(const Model& m, const mx::array& tokens, LoraAdapters& lora, const ForwardOptions& base,
                      const std::vector<mx::array>& flat, const mx::array& probe) {
  lora.assign(flat);
  ForwardOptions o = base;
  o.lora = &lora;
  return mx::sum(mx::multiply(forward(m, tokens, o), probe));
}

void check_gradients(bool checkpoint) {
  const Model m = tiny_model();
  LoraConfig lc;
  lc.rank = 4;
  lc.targets = {"q_proj", "v_proj", "down_proj"};
  LoraAdapters lora = init_lora(m.config, lc, 2);
  // Non-zero B so the gradient w.r.t. A is non-zero too.
  for (auto& [name, pair] : lora.modules) {
    pair.b = mx::random::normal(pair.b.shape(), mx::float32, 0.0f, 0.05f, mx::random::key(9));
  }
  const mx::array tokens = mx::random::randint(0, 256, {1, 5}, mx::int32, mx::random::key(6));
  const mx::array probe = mx::random::normal({1, 5, 256}, mx::float32, mx::random::key(8));
  ForwardOptions base;
  base.checkpoint_layers = checkpoint;
  const std::vector<mx::array> flat = lora.flatten();

  std::vector<int> argnums(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) argnums[i] = static_cast<int>(i);
  auto loss_fn = [&](const std::vector<mx::array>& params) {
    return std::vector<mx::array>{scalar_loss(m, tokens, lora, base, params, probe)};
  };
  auto [values, grads] = mx::value_and_grad(loss_fn, argnums)(flat);
  mx::eval(grads);

  // Central differences (in float64 arithmetic on float32 losses) on a few entries of A and B.
  const float eps = 1e-2f;
  for (size_t p : {size_t{0}, size_t{1}, flat.size() - 2, flat.size() - 1}) {
    for (int idx : {0, 3}) {
      auto bumped = [&](float delta) {
        std::vector<mx::array> f = flat;
        const mx::array flat_p = mx::reshape(f[p], {-1});
        const mx::array onehot =
            mx::astype(mx::equal(mx::arange(static_cast<int>(flat_p.size())), mx::array(idx)), mx::float32);
        f[p] = mx::reshape(mx::add(flat_p, mx::multiply(onehot, mx::array(delta))), flat[p].shape());
        return static_cast<double>(scalar_loss(m, tokens, lora, base, f, probe).item<float>());
      };
      const double numeric = (bumped(eps) - bumped(-eps)) / (2.0 * eps);
      const double analytic = mx::take(mx::reshape(grads[p], {-1}), idx).item<float>();
      EXPECT_GT(std::abs(numeric), 1e-2) << "a vanishing gradient would make this check empty";
      EXPECT_NEAR(analytic, numeric, 1e-3 + 1e-3 * std::abs(numeric))
          << "param " << p << " entry " << idx << (checkpoint ? " (checkpointed)" : "");
    }
  }
}

TEST(LlamaForward, LoraGradientsMatchFiniteDifferences) {
  check_gradients(false);
}

TEST(LlamaForward, LoraGradientsMatchFiniteDifferencesWithCheckpointing) {
  check_gradients(true);
}

TEST(LlamaForward, DropoutIsDeterministicPerKeyAndOffWithoutTrain) {
  const Model m = tiny_model();
  LoraConfig lc;
  lc.dropout = 0.5f;
  LoraAdapters lora = init_lora(m.config, lc, 3);
  for (auto& [name, pair] : lora.modules) {
    pair.b = mx::random::normal(pair.b.shape(), mx::float32, 0.0f, 0.1f, mx::random::key(10));
  }
  const mx::array tokens = mx::random::randint(0, 256, {1, 6}, mx::int32, mx::random::key(4));
  ForwardOptions eval_opts;
  eval_opts.lora = &lora;
  eval_opts.dropout_key = mx::random::key(11);
  ForwardOptions train = eval_opts;
  train.train = true;
  ForwardOptions other = train;
  other.dropout_key = mx::random::key(12);

  const mx::array a = forward(m, tokens, train);
  EXPECT_EQ(max_abs_diff(a, forward(m, tokens, train)), 0.0f);
  EXPECT_GT(max_abs_diff(a, forward(m, tokens, other)), 1e-4f);
  EXPECT_GT(max_abs_diff(a, forward(m, tokens, eval_opts)), 1e-4f);
}

}  // namespace
}  // namespace mlxft
