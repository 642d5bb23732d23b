// The device under test against the CPU path, for make device-check (scripts/device_check.sh runs
// DeviceParity.* in the CUDA build): one SFT step's loss and LoRA gradients of a tiny model.
//   With a GPU (this_build() finds one): the GPU in bfloat16 (what a GPU run computes in) and in float32
//   against the CPU in float32.
//   Without one (CI's CPU build): MLX's own ops in bfloat16 (MLXFT_KERNELS=0, the path every GPU stream
//   takes) against the CPU kernels in float32, so the comparison and its tolerances run everywhere.
// bfloat16 tolerance: the loss within 2 % and every gradient at cosine similarity > 0.99 with a norm
// within 5 %; float32: 1e-3 (differently ordered sums). And greedy generation of the float32 tiny
// model: the same 32 token ids on both sides.
#include <gtest/gtest.h>
#include <mlx/mlx.h>

#include <cmath>
#include <string>
#include <vector>

#include "mlxft/eval/generate.h"
#include "mlxft/objective/sft.h"
#include "mlxft/util/device.h"
#include "objective/tiny_sft_run.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

struct StepResult {
  float loss = 0;
  std::vector<mx::array> grads;
};

// Loss and LoRA gradients of one SFT step of `s`, its weights cast to `dtype`, on the default device.
StepResult sft_step(test::TinySftRun s, mx::Dtype dtype) {
  for (auto& [name, w] : s.model.weights) w = mx::astype(w, dtype);
  s.model.dtype = dtype;
  s.model.compute_dtype = dtype;
  const SftObjective objective(s.model, s.adapters, {});
  auto fn = [&](const std::vector<mx::array>& p) {
    const LossSum l = objective.loss(p, s.batch, mx::random::key(0));
    return std::vector<mx::array>{mx::divide(l.nll_sum, l.tokens)};
  };
  auto [values, grads] = mx::value_and_grad(fn)(s.params);
  for (auto& g : grads) g = mx::astype(g, mx::float32);
  mx::eval(values);
  mx::eval(grads);
  return {mx::astype(values[0], mx::float32).item<float>(), grads};
}

// The reference: float32 on the CPU with this build's CPU defaults (the kernels where they apply).
StepResult cpu_reference(const test::TinySftRun& s) {
  const mx::Device before = mx::default_device();
  mx::set_default_device(mx::Device::cpu);
  StepResult r = sft_step(s, mx::float32);
  mx::set_default_device(before);
  return r;
}

StepResult under_test(const test::TinySftRun& s, mx::Dtype dtype) {
  const mx::Device before = mx::default_device();
  if (this_build().gpu_count > 0) {
    mx::set_default_device(mx::Device::gpu);
    StepResult r = sft_step(s, dtype);
    mx::set_default_device(before);
    return r;
  }
  const test::KernelsSwitch portable(false);
  mx::set_default_device(mx::Device::cpu);
  StepResult r = sft_step(s, dtype);
  mx::set_default_device(before);
  return r;
}

void expect_close(const StepResult& got, const StepResult& want, float loss_tol, float cos_min,
                  float norm_tol) {
  EXPECT_LT(std::abs(got.loss - want.loss) / std::abs(want.loss), loss_tol)
      << got.loss << " vs " << want.loss;
  ASSERT_EQ(got.grads.size(), want.grads.size());
  for (size_t i = 0; i < got.grads.size(); ++i) {
    const mx::array a = mx::flatten(got.grads[i]), b = mx::flatten(want.grads[i]);
    const float na = std::sqrt(mx::sum(mx::square(a)).item<float>());
    const float nb = std::sqrt(mx::sum(mx::square(b)).item<float>());
    ASSERT_GT(nb, 0.0f) << "gradient " << i << " is zero on the reference";
    EXPECT_GT(mx::sum(mx::multiply(a, b)).item<float>() / (na * nb), cos_min) << "gradient " << i;
    EXPECT_LT(std::abs(na - nb) / nb, norm_tol) << "gradient " << i;
  }
}

TEST(DeviceParity, Bfloat16LossAndLoraGradientsMatchTheCpu) {
  const test::TinySftRun s = test::make_tiny_sft_run(true);
  const StepResult want = cpu_reference(s);
  const StepResult got = under_test(s, mx::bfloat16);
  std::printf("device parity (%s): loss %.6f vs CPU float32 %.6f\n",
              this_build().gpu_count > 0 ? "gpu bfloat16" : "cpu portable bfloat16", got.loss, want.loss);
  expect_close(got, want, 0.02f, 0.99f, 0.05f);
}

TEST(DeviceParity, Float32LossAndLoraGradientsMatchTheCpu) {
  const test::TinySftRun s = test::make_tiny_sft_run(true);
  const StepResult want = cpu_reference(s);
  const StepResult got = under_test(s, mx::float32);
  expect_close(got, want, 1e-3f, 0.9999f, 1e-3f);
}

// Greedy ids of the tiny float32 model from a fixed prompt on the default device.
std::vector<int32_t> greedy_ids(const test::TinySftRun& s) {
  GenerateOptions o;
  o.max_tokens = 32;
  o.sampling.temperature = 0.0f;
  return generate(s.model, {5, 17, 42, 99, 7, 250, 3}, o);
}

TEST(DeviceParity, GreedyGenerationOfAFloat32ModelIsIdentical) {
  const test::TinySftRun s = test::make_tiny_sft_run(false);
  const mx::Device before = mx::default_device();
  mx::set_default_device(mx::Device::cpu);
  const std::vector<int32_t> want = greedy_ids(s);
  std::vector<int32_t> got;
  if (this_build().gpu_count > 0) {
    mx::set_default_device(mx::Device::gpu);
    got = greedy_ids(s);
  } else {
    const test::KernelsSwitch portable(false);
    got = greedy_ids(s);
  }
  mx::set_default_device(before);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace mlxft
