// Quantized base weights: the linear kernel, a quantized model against its dequantized twin
// (logits and QLoRA gradients), and the mlx-community quantization config.
#include "mlxft/model/quant.h"

#include <gtest/gtest.h>

#include <numeric>

#include "mlxft/model/init.h"
#include "mlxft/model/linear.h"
#include "mlxft/model/llama.h"
#include "mlxft/objective/loss.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

// A tiny random model with every quantizable module quantized at `spec`, and its float twin that
// holds the dequantized weights (float32).
struct Twins {
  Model quantized, dequantized;
};

Twins tiny_twins(const QuantSpec& spec) {
  Twins t;
  t.quantized.config = preset_config("tiny", 256);
  t.quantized.weights = random_weights(t.quantized.config, 11, mx::float32);
  t.quantized.quantization = quantize_weights(t.quantized.weights, t.quantized.config, spec);
  t.dequantized.config = t.quantized.config;
  for (const auto& [name, w] : t.quantized.weights) {
    if (name.ends_with(".scales") || name.ends_with(".biases")) continue;
    const std::string module = name.substr(0, name.size() - 7);
    const auto q = t.quantized.quantization.find(module);
    t.dequantized.weights.insert_or_assign(
        name, q == t.quantized.quantization.end()
                  ? w
                  : dequantize_module(t.quantized.weights, module, q->second, mx::float32));
  }
  return t;
}

TEST(QuantizedLinear, EqualsTheDequantizedProductAndMlxQuantizedMatmulWithGradients) {
  const mx::array w = mx::random::normal({48, 128}, mx::float32, mx::random::key(1));
  const auto parts = mx::quantize(w, 64, 4);
  FrozenWeight q(parts[0]);
  q.scales = parts[1], q.biases = parts[2], q.bits = 4, q.group_size = 64;
  const mx::array x = mx::random::normal({2, 5, 128}, mx::float32, mx::random::key(2));
  const mx::array dense = mx::dequantize(parts[0], parts[1], parts[2], 64, 4);
  const mx::array y = frozen_linear(x, q);
  EXPECT_EQ(y.shape(), (mx::Shape{2, 5, 48}));
  EXPECT_EQ(max_abs_diff(y, mx::matmul(x, mx::transpose(dense))), 0.0f);  // the CPU path is exactly this
  // The GPU path's op gives the same product and gradient wrt x (to float32 rounding: 1e-4 abs).
  const mx::array y_gpu_op = mx::quantized_matmul(x, parts[0], parts[1], parts[2], true, 64, 4);
  EXPECT_LT(max_abs_diff(y, y_gpu_op), 1e-4f);
  auto grad_of = [&](auto f) {
    return mx::grad([&](const mx::array& in) { return mx::sum(mx::square(f(in))); })(x);
  };
  const mx::array g = grad_of([&](const mx::array& in) { return frozen_linear(in, q); });
  const mx::array g_ref = grad_of([&](const mx::array& in) {
    return mx::quantized_matmul(in, parts[0], parts[1], parts[2], true, 64, 4);
  });
  EXPECT_GT(mx::max(mx::abs(g)).item<float>(), 0.1f);
  // One row (decoding) takes quantized_matmul on the CPU too: the same product to 1e-4.
  const mx::array x1 = mx::slice(x, {0, 0, 0}, {1, 1, 128});
  EXPECT_LT(max_abs_diff(frozen_linear(x1, q), mx::matmul(x1, mx::transpose(dense))), 1e-4f);
  EXPECT_LT(max_abs_diff(g, g_ref), 1e-3f);
}

TEST(QuantizedModel, LogitsEqualThoseOfTheDequantizedFloatModel) {
  for (const QuantSpec spec : {QuantSpec{4, 32}, QuantSpec{8, 64}}) {
    const Twins t = tiny_twins(spec);
    // The embedding, 14 projections and the (untied) head.
    EXPECT_EQ(t.quantized.quantization.size(), 16u);
    EXPECT_EQ(t.quantized.weight("model.embed_tokens.weight").dtype(), mx::uint32);
    const mx::array tokens = mx::random::randint(0, 256, {2, 7}, mx::int32, mx::random::key(5));
    const mx::array a = forward(t.quantized, tokens), b = forward(t.dequantized, tokens);
    EXPECT_LT(max_abs_diff(a, b), 1e-5f) << spec.bits << " bits";
    EXPECT_GT(mx::max(mx::abs(b)).item<float>(), 1e-3f);
  }
}

// QLoRA: the adapters' gradients through the quantized base equal those through the float model
// built from the dequantized weights; tolerance 1e-5 relative to the largest gradient (both run
// the same float32 products on the CPU; on a GPU quantized_matmul sums in another order).
// The same for DoRA, whose row norms read the (dequantized) base weight.
void check_quantized_gradients(AdapterKind kind) {
  const Twins t = tiny_twins(QuantSpec{4, 32});
  LoraConfig lc;
  lc.kind = kind;
  lc.rank = 4;
  lc.targets = {"q_proj", "v_proj", "down_proj"};
  LoraAdapters adapters = init_lora(t.quantized.config, lc, 9, [&](const std::string& module) {
    return dequantize_module(t.quantized.weights, module, t.quantized.quantization.at(module), mx::float32);
  });
  int seed = 20;
  for (auto& [path, pair] : adapters.modules)  // non-zero B, so A gets a gradient too
    pair.b = mx::multiply(mx::array(0.05f),
                          mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(seed++)));
  const mx::array tokens = mx::random::randint(0, 256, {2, 8}, mx::int32, mx::random::key(6));
  const mx::array targets = mx::random::randint(0, 256, {2, 8}, mx::int32, mx::random::key(7));
  const mx::array mask = mx::ones({2, 8}, mx::float32);
  auto grads_through = [&](const Model& m) {
    LoraAdapters work = adapters;
    auto loss = [&](const std::vector<mx::array>& params) {
      work.assign(params);
      ForwardOptions o;
      o.lora = &work;
      const LossSum s = masked_cross_entropy(forward(m, tokens, o), targets, mask);
      return std::vector<mx::array>{mx::divide(s.nll_sum, s.tokens)};
    };
    const auto params = adapters.flatten();
    std::vector<int> argnums(params.size());
    std::iota(argnums.begin(), argnums.end(), 0);
    return mx::value_and_grad(loss, argnums)(params).second;
  };
  const auto gq = grads_through(t.quantized), gf = grads_through(t.dequantized);
  ASSERT_EQ(gq.size(), gf.size());
  for (size_t i = 0; i < gq.size(); ++i) {
    const float scale = mx::max(mx::abs(gf[i])).item<float>();
    EXPECT_GT(scale, 0.0f) << "gradient " << i;
    EXPECT_LE(max_abs_diff(gq[i], gf[i]), 1e-5f * scale) << "gradient " << i;
  }
  EXPECT_EQ(gq.size(), adapters.modules.size() * (kind == AdapterKind::dora ? 3 : 2));
}

TEST(QuantizedModel, QloraGradientsEqualTheDequantizedFloatReference) {
  check_quantized_gradients(AdapterKind::lora);
}

TEST(QuantizedModel, QdoraGradientsEqualTheDequantizedFloatReference) {
  check_quantized_gradients(AdapterKind::dora);
}

TEST(MlxQuantization, ReadsTheDefaultPerModuleOverridesAndFalse) {
  const ModelConfig c = preset_config("tiny", 256);
  const json config = json::parse(R"({"quantization": {"group_size": 64, "bits": 4,
      "model.layers.1.mlp.down_proj": {"group_size": 32, "bits": 8},
      "model.layers.0.self_attn.q_proj": false}})");
  const QuantMap q = mlx_quantization(
      config, c, [](const std::string& m) { return m != "model.embed_tokens"; }, "config.json");
  EXPECT_EQ(q.size(), 14u);  // 14 projections + lm_head, less the one set to false; no embedding scales
  EXPECT_EQ(q.at("model.layers.1.mlp.down_proj"), (QuantSpec{8, 32}));
  EXPECT_EQ(q.at("model.layers.0.self_attn.k_proj"), (QuantSpec{4, 64}));
  EXPECT_FALSE(q.count("model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(q.count("model.embed_tokens"));
  // The config written back reads back the same.
  const json again = {{"quantization", mlx_quantization_json(q, c)}};
  EXPECT_EQ(mlx_quantization(
                again, c, [&](const std::string& m) { return q.count(m) > 0; }, "again"),
            q);
}

TEST(MlxQuantization, AnUnsupportedModeOrGroupSizeNamesTheFileAndKey) {
  const ModelConfig c = preset_config("tiny", 256);
  auto error_of = [&](const char* text) {
    try {
      mlx_quantization(
          json::parse(text), c, [](const std::string&) { return true; }, "dir/config.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}})")
                .find("dir/config.json: quantization.mode"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"quantization": {"group_size": 64, "bits": 4,
                        "model.layers.0.mlp.up_proj": {"group_size": 16, "bits": 4}}})")
                .find("quantization.model.layers.0.mlp.up_proj"),
            std::string::npos);
}

}  // namespace
}  // namespace mlxft
