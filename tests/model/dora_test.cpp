// DoRA (AdapterKind::dora): the initial output is the base's, the forward is the merged weight's
// product, the gradient is PEFT's (the row norm detached: checked against finite differences of the
// function whose norm is held at its value, on one projection and through the whole model with and
// without layer checkpointing), a quantized base acts as its dequantized weight, and its names.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "mlxft/model/family.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

LoraConfig dora_config() {
  LoraConfig c;
  c.kind = AdapterKind::dora;
  c.rank = 4;
  c.alpha = 8.0f;
  return c;
}

// One projection: x [2, 3, 6], W [5, 6], a DoRA adapter with non-zero B and magnitudes away from ||W||.
struct Projection1 {
  LoraConfig config = dora_config();
  mx::array x = mx::random::normal({2, 3, 6}, mx::float32, mx::random::key(1));
  mx::array w = mx::random::normal({5, 6}, mx::float32, mx::random::key(2));
  LoraPair pair{mx::random::normal({4, 6}, mx::float32, mx::random::key(3)),
                mx::multiply(mx::array(0.3f), mx::random::normal({5, 4}, mx::float32, mx::random::key(4))),
                mx::random::uniform(1.0f, 3.0f, {5}, mx::float32, mx::random::key(5))};
  mx::array probe = mx::random::normal({2, 3, 5}, mx::float32, mx::random::key(6));

  mx::array out(const LoraPair& p) const {
    const FrozenWeight fw{w};
    return adapted_linear(mx::matmul(x, mx::transpose(w)), x, fw, p, config, std::nullopt);
  }
  // sum(probe * out): a scalar that depends on every output.
  mx::array loss(const LoraPair& p) const { return mx::sum(mx::multiply(out(p), probe)); }
};

TEST(Dora, InitialMagnitudeIsTheRowNormAndTheOutputIsTheBase) {
  Projection1 f;
  const LoraPair p = initial_adapter(f.config, 6, 5, mx::random::key(7), [&] { return f.w; });
  ASSERT_TRUE(p.magnitude.has_value());
  EXPECT_EQ(p.magnitude->shape(), (mx::Shape{5}));
  EXPECT_LT(max_abs_diff(*p.magnitude, mx::sqrt(mx::sum(mx::square(f.w), 1))), 1e-6f);
  EXPECT_EQ(mx::max(mx::abs(p.b)).item<float>(), 0.0f);
  // A is LoRA's draw for the same key.
  LoraConfig lora_config = f.config;
  lora_config.kind = AdapterKind::lora;
  EXPECT_EQ(max_abs_diff(p.a, initial_adapter(lora_config, 6, 5, mx::random::key(7), {}).a), 0.0f);
  const mx::array base = mx::matmul(f.x, mx::transpose(f.w));
  EXPECT_LT(max_abs_diff(f.out(p), base), 1e-6f);
}

TEST(Dora, ForwardIsTheProductWithTheMergedWeight) {
  Projection1 f;
  const mx::array n = mx::sqrt(mx::sum(mx::square(mx::add(f.w, mx::multiply(mx::array(2.0f),
                                                                            mx::matmul(f.pair.b, f.pair.a)))),
                                       1));
  const mx::array merged = mx::multiply(mx::add(f.w, mx::multiply(mx::array(2.0f), mx::matmul(f.pair.b, f.pair.a))),
                                        mx::expand_dims(mx::divide(*f.pair.magnitude, n), 1));
  EXPECT_LT(max_abs_diff(merged_weight(f.w, f.pair, f.config), merged), 1e-5f);
  const mx::array want = mx::matmul(f.x, mx::transpose(merged));
  EXPECT_LT(max_abs_diff(f.out(f.pair), want), 1e-5f);
  // ... and differs from LoRA's output with the same A and B (the magnitudes act).
  LoraConfig lora = f.config;
  lora.kind = AdapterKind::lora;
  EXPECT_GT(max_abs_diff(mx::matmul(f.x, mx::transpose(merged_weight(f.w, f.pair, lora))), want), 1e-2f);
}

// Central differences of `loss` at entry `idx` of array `which` (0 a, 1 b, 2 magnitude).
double finite_difference(const std::function<double(const LoraPair&)>& loss, const LoraPair& at, int which, int idx,
                         float eps) {
  auto bumped = [&](float delta) {
    LoraPair p = at;
    std::vector<mx::array> arrays = p.arrays();
    const mx::array flat = mx::reshape(arrays[which], {-1});
    const mx::array onehot =
        mx::astype(mx::equal(mx::arange(static_cast<int>(flat.size())), mx::array(idx)), mx::float32);
    arrays[which] = mx::reshape(mx::add(flat, mx::multiply(onehot, mx::array(delta))), arrays[which].shape());
    p.assign(arrays, 0);
    return loss(p);
  };
  return (bumped(eps) - bumped(-eps)) / (2.0 * eps);
}

std::vector<mx::array> gradients(const std::function<mx::array(const LoraPair&)>& loss, const LoraPair& at) {
  auto fn = [&](const std::vector<mx::array>& params) {
    LoraPair p = at;
    p.assign(params, 0);
    return std::vector<mx::array>{loss(p)};
  };
  auto g = mx::value_and_grad(fn, std::vector<int>{0, 1, 2})(at.arrays()).second;
  mx::eval(g);
  return g;
}

TEST(Dora, GradientIsPeftsDetachedNormAgainstFiniteDifferences) {
  Projection1 f;
  const std::vector<mx::array> g = gradients([&](const LoraPair& p) { return f.loss(p); }, f.pair);
  // The function whose row norm is held at its value at f.pair: what PEFT's (and mlx-lm's) detached
  // norm differentiates. Magnitude m' = m * n(A', B') / n(A, B) keeps m' / n(A', B') = m / n(A, B).
  const mx::array n0 = dora_weight_norm(f.w, f.pair, f.config);
  auto held = [&](const LoraPair& p) {
    LoraPair q = p;
    q.magnitude = mx::multiply(*p.magnitude, mx::divide(dora_weight_norm(f.w, p, f.config), n0));
    return static_cast<double>(f.loss(q).item<float>());
  };
  auto full = [&](const LoraPair& p) { return static_cast<double>(f.loss(p).item<float>()); };
  double largest_gap = 0.0;  // between the detached gradient and the full one, over B
  for (int which = 0; which < 3; ++which) {
    const int size = static_cast<int>(f.pair.arrays()[static_cast<size_t>(which)].size());
    for (int idx = 0; idx < size; ++idx) {
      const double analytic = mx::take(mx::reshape(g[static_cast<size_t>(which)], {-1}), idx).item<float>();
      const double numeric = finite_difference(held, f.pair, which, idx, 1e-2f);
      EXPECT_NEAR(analytic, numeric, 2e-3 + 2e-3 * std::abs(numeric)) << "array " << which << " entry " << idx;
      if (which == 2) {  // the norm does not depend on m: the full function's derivative, exactly
        EXPECT_NEAR(analytic, finite_difference(full, f.pair, which, idx, 1e-2f), 2e-3 + 2e-3 * std::abs(numeric));
        EXPECT_GT(std::abs(numeric), 1e-2) << "a vanishing gradient would make this check empty";
      }
      if (which == 1)
        largest_gap = std::max(largest_gap, std::abs(analytic - finite_difference(full, f.pair, which, idx, 1e-2f)));
    }
  }
  // The norm is detached: differentiating through it would give another gradient for B.
  EXPECT_GT(largest_gap, 5e-2);
}

TEST(Dora, AQuantizedBaseActsAsItsDequantizedWeight) {
  Projection1 f;
  const mx::array w = mx::random::normal({8, 64}, mx::float32, mx::random::key(11));
  const auto parts = mx::quantize(w, 32, 4);
  FrozenWeight q(parts[0]);
  q.scales = parts[1], q.biases = parts[2], q.bits = 4, q.group_size = 32;
  const mx::array dense = mx::dequantize(parts[0], parts[1], parts[2], 32, 4);
  EXPECT_EQ(max_abs_diff(frozen_float_weight(q), dense), 0.0f);
  const LoraPair p = initial_adapter(f.config, 64, 8, mx::random::key(12), [&] { return frozen_float_weight(q); });
  LoraPair trained = p;
  trained.b = mx::random::normal({8, 4}, mx::float32, mx::random::key(13));
  const mx::array x = mx::random::normal({3, 64}, mx::float32, mx::random::key(14));
  const mx::array y = mx::matmul(x, mx::transpose(dense));
  const mx::array got = adapted_linear(frozen_linear(x, q), x, q, trained, f.config, std::nullopt);
  const mx::array want = adapted_linear(y, x, FrozenWeight{dense}, trained, f.config, std::nullopt);
  EXPECT_LT(max_abs_diff(got, want), 1e-4f);
  EXPECT_GT(max_abs_diff(got, y), 1e-2f);  // the adapter matters
  EXPECT_LT(max_abs_diff(got, mx::matmul(x, mx::transpose(merged_weight(dense, trained, f.config)))), 1e-4f);
}

TEST(Dora, NamesAndArraysCarryTheMagnitude) {
  const auto& names = adapter_tensors(AdapterKind::dora);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0].peft_file, "lora_A.weight");
  EXPECT_EQ(names[2].peft, "lora_magnitude_vector");
  EXPECT_EQ(names[2].peft_file, "lora_magnitude_vector");  // PEFT 0.21 drops ".weight" for it
  EXPECT_EQ(names[2].mlx_lm, "m");
  EXPECT_TRUE(names[2].gguf.empty());
  EXPECT_EQ(adapter_kind_name(AdapterKind::dora), "dora");
  EXPECT_EQ(adapter_kind_named("dora"), AdapterKind::dora);
  Projection1 f;
  EXPECT_EQ(f.pair.arrays().size(), 3u);
  LoraPair copy = f.pair;
  const std::vector<mx::array> flat = {f.pair.b, f.pair.a, mx::zeros({5})};
  EXPECT_EQ(copy.assign(flat, 0), 3u);
  EXPECT_EQ(max_abs_diff(*copy.magnitude, mx::zeros({5})), 0.0f);
}

// ---- the whole model ---------------------------------------------------------------------------

Model tiny_model() {
  Model m;
  m.config = preset_config("tiny", 256);
  m.weights = random_weights(m.config, 7, mx::float32);
  m.dtype = mx::float32;
  return m;
}

LoraAdapters tiny_dora(const Model& m, const std::vector<std::string>& targets) {
  LoraConfig lc = dora_config();
  lc.targets = targets;
  return init_lora(m.config, lc, 2, [&](const std::string& module) { return m.weight(module + ".weight"); });
}

TEST(Dora, InitialModelIsTheBaseModel) {
  const Model m = tiny_model();
  const LoraAdapters dora = tiny_dora(m, family_lora_targets(m.config));
  int64_t expected = 0;  // A, B and one magnitude per output row
  for (const auto& [path, pair] : dora.modules)
    expected += static_cast<int64_t>(pair.a.size() + pair.b.size()) + pair.b.shape(0);
  EXPECT_EQ(dora.parameter_count(), expected);
  const mx::array tokens = mx::random::randint(0, 256, {1, 6}, mx::int32, mx::random::key(4));
  ForwardOptions o;
  o.lora = &dora;
  EXPECT_LT(max_abs_diff(forward(m, tokens, o), forward(m, tokens)), 1e-5f);
}

TEST(Dora, FixedNormsGiveTheSameLogits) {
  const Model m = tiny_model();
  LoraAdapters dora = tiny_dora(m, {"q_proj", "down_proj"});
  int seed = 60;
  for (auto& [name, pair] : dora.modules)
    pair.b = mx::random::normal(pair.b.shape(), mx::float32, 0.0f, 0.1f, mx::random::key(seed++));
  const mx::array tokens = mx::random::randint(0, 256, {2, 6}, mx::int32, mx::random::key(4));
  ForwardOptions o;
  o.lora = &dora;
  const mx::array want = forward(m, tokens, o);
  EXPECT_GT(max_abs_diff(want, forward(m, tokens)), 1e-3f);  // the adapter matters
  fix_dora_norms(dora, m);
  for (const auto& [name, pair] : dora.modules) ASSERT_TRUE(pair.fixed_norm.has_value()) << name;
  EXPECT_LT(max_abs_diff(forward(m, tokens, o), want), 1e-6f);
}

void check_model_gradients(bool checkpoint) {
  const Model m = tiny_model();
  LoraAdapters lora = tiny_dora(m, {"q_proj", "v_proj", "down_proj"});
  int seed = 30;
  for (auto& [name, pair] : lora.modules) {
    pair.b = mx::random::normal(pair.b.shape(), mx::float32, 0.0f, 0.05f, mx::random::key(seed++));
    pair.magnitude = mx::multiply(*pair.magnitude, mx::random::uniform(0.8f, 1.2f, pair.magnitude->shape(),
                                                                       mx::float32, mx::random::key(seed++)));
  }
  const mx::array tokens = mx::random::randint(0, 256, {1, 5}, mx::int32, mx::random::key(6));
  const mx::array probe = mx::random::normal({1, 5, 256}, mx::float32, mx::random::key(8));
  ForwardOptions base;
  base.checkpoint_layers = checkpoint;
  auto scalar_loss = [&](const std::vector<mx::array>& flat) {
    LoraAdapters work = lora;
    work.assign(flat);
    ForwardOptions o = base;
    o.lora = &work;
    return mx::sum(mx::multiply(forward(m, tokens, o), probe));
  };
  const std::vector<mx::array> flat = lora.flatten();
  std::vector<int> argnums(flat.size());
  std::iota(argnums.begin(), argnums.end(), 0);
  auto grads = mx::value_and_grad(
      [&](const std::vector<mx::array>& p) { return std::vector<mx::array>{scalar_loss(p)}; }, argnums)(flat).second;
  mx::eval(grads);

  // The norms held at their values: a bump of A or B of module k rescales k's magnitude by n' / n.
  std::vector<std::string> paths;
  for (const auto& [path, pair] : lora.modules) paths.push_back(path);
  const float eps = 1e-2f;
  for (size_t p : {size_t{0}, size_t{1}, size_t{2}, flat.size() - 3, flat.size() - 2, flat.size() - 1}) {
    const size_t module = p / 3;
    const LoraPair& at = lora.modules.at(paths[module]);
    const mx::array w = m.weight(paths[module] + ".weight");
    for (int idx : {0, 3}) {
      auto bumped = [&](float delta) {
        std::vector<mx::array> f = flat;
        const mx::array flat_p = mx::reshape(f[p], {-1});
        const mx::array onehot =
            mx::astype(mx::equal(mx::arange(static_cast<int>(flat_p.size())), mx::array(idx)), mx::float32);
        f[p] = mx::reshape(mx::add(flat_p, mx::multiply(onehot, mx::array(delta))), flat[p].shape());
        if (p % 3 != 2) {
          LoraPair moved = at;
          moved.assign(f, module * 3);
          f[module * 3 + 2] = mx::multiply(*at.magnitude, mx::divide(dora_weight_norm(w, moved, lora.config),
                                                                     dora_weight_norm(w, at, lora.config)));
        }
        return static_cast<double>(scalar_loss(f).item<float>());
      };
      const double numeric = (bumped(eps) - bumped(-eps)) / (2.0 * eps);
      const double analytic = mx::take(mx::reshape(grads[p], {-1}), idx).item<float>();
      EXPECT_GT(std::abs(numeric), 2e-3) << "a vanishing gradient would make this check empty";
      EXPECT_NEAR(analytic, numeric, 1e-3 + 1e-3 * std::abs(numeric))
          << "param " << p << " entry " << idx << (checkpoint ? " (checkpointed)" : "");
    }
  }
}

TEST(Dora, ModelGradientsMatchFiniteDifferences) {
  check_model_gradients(false);
}

TEST(Dora, ModelGradientsMatchFiniteDifferencesWithCheckpointing) {
  check_model_gradients(true);
}

}  // namespace
}  // namespace mlxft
