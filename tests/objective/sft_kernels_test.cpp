// The CPU-kernel path of the model and the SFT loss (oneDNN frozen projections, fused LM head +
// cross-entropy) against MLX's own ops on a tiny random model: logits, loss and LoRA gradients.
// Tolerances: float32 compute, relative 1e-4 (different summation orders only); bfloat16 compute
// (weights and the matmul inputs rounded to 8 mantissa bits, float32 accumulation), loss within
// 1 % and gradients at cosine similarity > 0.99.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant.h"
#include "mlxft/objective/sft.h"
#include "mlxft/util/cpu_features.h"
#include "objective/tiny_sft_run.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using test::KernelsSwitch;
using TinyRun = test::TinySftRun;

TinyRun make_run() {
  return test::make_tiny_sft_run(true);
}

struct LossAndGrads {
  float loss = 0;
  std::vector<mx::array> grads;
};

LossAndGrads run(const TinyRun& s, float label_smoothing) {
  const SftObjective objective(s.model, s.adapters, {.label_smoothing = label_smoothing});
  auto fn = [&](const std::vector<mx::array>& p) {
    const LossSum l = objective.loss(p, s.batch, mx::random::key(0));
    return std::vector<mx::array>{mx::divide(l.nll_sum, l.tokens)};
  };
  auto [values, grads] = mx::value_and_grad(fn)(s.params);
  mx::eval(values);
  mx::eval(grads);
  return {values[0].item<float>(), grads};
}

float cosine(const mx::array& a, const mx::array& b) {
  const mx::array fa = mx::flatten(a), fb = mx::flatten(b);
  return (mx::sum(mx::multiply(fa, fb)) / mx::sqrt(mx::sum(mx::square(fa)) * mx::sum(mx::square(fb))))
      .item<float>();
}

float relative_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>() / mx::max(mx::abs(b)).item<float>();
}

void compare(mx::Dtype compute, float label_smoothing) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN: the kernels are MLX's own ops";
  TinyRun s = make_run();
  LossAndGrads mlx_ops, kern;
  {
    const KernelsSwitch off(false);
    ASSERT_EQ(kernel_weight(s.model, "lm_head.weight"), nullptr);
    mlx_ops = run(s, label_smoothing);
  }
  s.model.compute_dtype = compute;
  {
    const KernelsSwitch on(true);
    ASSERT_NE(kernel_weight(s.model, "lm_head.weight"), nullptr);
    kern = run(s, label_smoothing);
  }
  ASSERT_EQ(kern.grads.size(), mlx_ops.grads.size());
  const bool f32 = compute == mx::float32;
  {  // bfloat16: the head is packed for both products (the plain copy and two blocked ones, padded)
    const KernelsSwitch on(true);
    EXPECT_EQ(head_is_packed(s.model), !f32);
    const size_t plain = 300u * 64 * (f32 ? 4 : 2);
    const size_t held = kernel_weight(s.model, "lm_head.weight")->resident_bytes();
    if (f32) {
      EXPECT_EQ(held, plain);
    } else {
      EXPECT_GE(held, 3 * plain);
    }
  }
  EXPECT_NEAR(kern.loss, mlx_ops.loss, (f32 ? 1e-5f : 1e-2f) * mlx_ops.loss);
  for (size_t i = 0; i < kern.grads.size(); ++i) {
    if (f32) {
      EXPECT_LT(relative_diff(kern.grads[i], mlx_ops.grads[i]), 1e-4f) << "parameter " << i;
    } else {
      EXPECT_GT(cosine(kern.grads[i], mlx_ops.grads[i]), 0.99f) << "parameter " << i;
    }
  }
}

TEST(SftKernels, Float32LossAndLoraGradientsEqualTheMlxPath) {
  compare(mx::float32, 0.0f);
}
TEST(SftKernels, Float32WithLabelSmoothing) {
  compare(mx::float32, 0.1f);
}
TEST(SftKernels, Bfloat16StaysCloseToTheFloat32MlxPath) {
  compare(mx::bfloat16, 0.0f);
}

// model.pack_weights: the projections' kernel weights hold both packed copies (bfloat16 compute only), and
// the loss and LoRA gradients are those of the plain layouts (same products; oneDNN may sum in another
// order, so 1e-3 relative).
TEST(SftKernels, PackedProjectionsGiveThePlainLayoutsResult) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN";
  const KernelsSwitch on(true);
  TinyRun s = make_run();
  s.model.compute_dtype = mx::bfloat16;
  // The last layer's: its dx flows back to the first layer's adapters, so both packed copies get made.
  const std::string q =
      "model.layers." + std::to_string(s.model.config.num_hidden_layers - 1) + ".self_attn.q_proj.weight";
  const LossAndGrads plain = run(s, 0.0f);
  const size_t plain_bytes = kernel_weight(s.model, q)->resident_bytes();
  s.model.pack_weights = true;
  ASSERT_TRUE(projections_are_packed(s.model));
  const LossAndGrads packed = run(s, 0.0f);
  EXPECT_GE(kernel_weight(s.model, q)->resident_bytes(), 3 * plain_bytes);  // forward and dx copies too
  EXPECT_NEAR(packed.loss, plain.loss, 1e-3f * plain.loss);
  for (size_t i = 0; i < packed.grads.size(); ++i) {
    EXPECT_LT(relative_diff(packed.grads[i], plain.grads[i]), 1e-3f) << "parameter " << i;
  }
  s.model.compute_dtype = mx::float32;  // packing is a bfloat16-compute choice
  EXPECT_FALSE(projections_are_packed(s.model));
}

// The same on a 4-bit base: packing dequantizes each quantized projection and the quantized head once
// (their kernel weights then hold W, not the 4-bit form) instead of on every call, with the per-call
// path's loss and gradients.
TEST(SftKernels, PackedQuantizedProjectionsGiveThePerCallResult) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN";
  const KernelsSwitch on(true);
  TinyRun s = make_run();
  s.model.compute_dtype = mx::bfloat16;
  s.model.quantization = quantize_weights(s.model.weights, s.model.config, QuantSpec{4, 32});
  const std::string q =
      "model.layers." + std::to_string(s.model.config.num_hidden_layers - 1) + ".self_attn.q_proj.weight";
  const LossAndGrads per_call = run(s, 0.0f);
  EXPECT_TRUE(kernel_weight(s.model, q)->quantized());
  EXPECT_FALSE(head_is_packed(s.model));
  s.model.pack_weights = true;
  ASSERT_TRUE(projections_are_packed(s.model));
  const LossAndGrads packed = run(s, 0.0f);
  EXPECT_FALSE(kernel_weight(s.model, q)->quantized());
  EXPECT_TRUE(head_is_packed(s.model));  // the quantized head too
  EXPECT_FALSE(kernel_weight(s.model, lm_head_name(s.model))->quantized());
  EXPECT_NEAR(packed.loss, per_call.loss, 1e-3f * per_call.loss);
  for (size_t i = 0; i < packed.grads.size(); ++i) {
    EXPECT_LT(relative_diff(packed.grads[i], per_call.grads[i]), 1e-3f) << "parameter " << i;
  }
}

TEST(SftKernels, LogitsEqualTheMlxPathInFloat32) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN";
  const TinyRun s = make_run();
  mx::array expected(0.0f), got(0.0f);
  {
    const KernelsSwitch off(false);
    expected = forward(s.model, s.batch.inputs);
    mx::eval(expected);
  }
  {
    const KernelsSwitch on(true);
    got = forward(s.model, s.batch.inputs);
    mx::eval(got);
  }
  ASSERT_EQ(got.shape(), expected.shape());
  EXPECT_LT(relative_diff(got, expected), 1e-5f);
}

TEST(SftKernels, ResolveComputeDtype) {
  EXPECT_EQ(resolve_compute_dtype("float32"), mx::float32);
  EXPECT_EQ(resolve_compute_dtype("bfloat16"), mx::bfloat16);
  EXPECT_EQ(resolve_compute_dtype("auto"), bf16_matmul_is_fast() ? mx::bfloat16 : mx::float32);
  EXPECT_ANY_THROW(resolve_compute_dtype("float16"));
}

}  // namespace
}  // namespace mlxft
