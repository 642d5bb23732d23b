// The kernel-or-MLX choice made by the ops themselves (kernels/switches.h): with the CPU kernels switched
// off (MLXFT_KERNELS=0, what every non-CPU stream gets too) a training step's graph holds no primitive
// of this project; switched on, it does. And token_nll(), the one per-token loss of SFT, KTO and
// evaluation, gives the same values and hidden-state gradients on both paths (float32: relative 1e-5
// and 1e-4; bfloat16 compute: values within 1 %, gradients at cosine similarity > 0.99).
#include <gtest/gtest.h>
#include <mlx/primitives.h>

#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <typeinfo>
#include <vector>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/objective/loss.h"
#include "mlxft/objective/sft.h"
#include "mlxft/util/cpu_features.h"
#include "objective/tiny_sft_run.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using test::KernelsSwitch;
using Tiny = test::TinySftRun;

Tiny make_tiny() {
  return test::make_tiny_sft_run(false);
}

// The loss and LoRA gradients of one SFT step, as a lazy graph (nothing evaluated).
std::vector<mx::array> step_graph(const Tiny& s) {
  const SftObjective objective(s.model, s.adapters, {});
  auto fn = [&](const std::vector<mx::array>& p) {
    const LossSum l = objective.loss(p, s.batch, mx::random::key(0));
    return std::vector<mx::array>{mx::divide(l.nll_sum, l.tokens)};
  };
  auto [values, grads] = mx::value_and_grad(fn)(s.params);
  values.insert(values.end(), grads.begin(), grads.end());
  return values;
}

// The primitives of this project (namespace mlxft) in the graph behind `outputs`, by their names.
std::set<std::string> project_primitives(const std::vector<mx::array>& outputs) {
  std::set<std::string> found;
  std::set<std::uintptr_t> seen;
  std::vector<mx::array> todo = outputs;
  while (!todo.empty()) {
    const mx::array a = todo.back();
    todo.pop_back();
    if (!seen.insert(a.id()).second || !a.has_primitive()) continue;
    const mx::Primitive& p = a.primitive();
    if (std::string(typeid(p).name()).find("mlxft") != std::string::npos) found.insert(p.name());
    for (const auto& in : a.inputs()) todo.push_back(in);
    for (const auto& sib : a.siblings()) todo.push_back(sib);
  }
  return found;
}

TEST(KernelChoice, SwitchedOffTheStepGraphHoldsNoProjectPrimitive) {
  const Tiny s = make_tiny();
  const KernelsSwitch off(false);
  const std::set<std::string> found = project_primitives(step_graph(s));
  EXPECT_TRUE(found.empty()) << "first: " << (found.empty() ? "" : *found.begin());
}

TEST(KernelChoice, SwitchedOnTheStepGraphHoldsTheKernels) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN: every op is MLX's";
  const Tiny s = make_tiny();
  const KernelsSwitch on(true);
  const std::set<std::string> found = project_primitives(step_graph(s));
  for (const char* name :
       {"RmsNorm", "RopeHeads", "CausalAttention", "Swiglu", "FrozenLinear", "FusedHeadCE"}) {
    EXPECT_TRUE(found.count(name)) << name;
  }
}

float relative_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>() / mx::max(mx::abs(b)).item<float>();
}

float cosine(const mx::array& a, const mx::array& b) {
  const mx::array fa = mx::flatten(a), fb = mx::flatten(b);
  return (mx::sum(mx::multiply(fa, fb)) / mx::sqrt(mx::sum(mx::square(fa)) * mx::sum(mx::square(fb))))
      .item<float>();
}

// token_nll and its gradient with respect to the hidden states.
std::pair<mx::array, mx::array> nll_and_grad(const Tiny& s, const mx::array& hidden, bool training) {
  auto fn = [&](const mx::array& h) {
    return mx::sum(token_nll(s.model, h, s.batch, {.training = training}));
  };
  const mx::array nll = token_nll(s.model, hidden, s.batch, {.training = training});
  const mx::array grad = mx::grad(std::function<mx::array(const mx::array&)>(fn))(hidden);
  mx::eval({nll, grad});
  return {nll, grad};
}

void compare_paths(mx::Dtype compute, bool training) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN: one path only";
  Tiny s = make_tiny();
  s.model.compute_dtype = compute;
  const mx::array hidden = forward_hidden(s.model, s.batch.inputs);
  mx::eval(hidden);
  std::pair<mx::array, mx::array> portable{hidden, hidden}, kernel{hidden, hidden};
  {
    const KernelsSwitch off(false);
    portable = nll_and_grad(s, hidden, training);
  }
  {
    const KernelsSwitch on(true);
    ASSERT_NE(kernel_weight(s.model, lm_head_name(s.model)), nullptr);
    kernel = nll_and_grad(s, hidden, training);
  }
  const float tol = compute == mx::float32 ? 1e-5f : 1e-2f;
  EXPECT_LT(relative_diff(kernel.first, portable.first), tol);
  if (compute == mx::float32) {
    EXPECT_LT(relative_diff(kernel.second, portable.second), 1e-4f);
  } else {
    EXPECT_GT(cosine(kernel.second, portable.second), 0.99f);
  }
  // masked positions are 0 on both paths
  EXPECT_EQ(mx::sum(mx::abs(mx::slice(portable.first, {1, 0}, {2, 4}))).item<float>(), 0.0f);
  EXPECT_EQ(mx::sum(mx::abs(mx::slice(kernel.first, {1, 0}, {2, 4}))).item<float>(), 0.0f);
}

TEST(KernelChoice, TokenNllPortableEqualsKernelFloat32) {
  compare_paths(mx::float32, true);
}
TEST(KernelChoice, TokenNllPortableEqualsKernelFloat32Evaluation) {
  compare_paths(mx::float32, false);
}
TEST(KernelChoice, TokenNllPortableCloseToKernelBfloat16) {
  compare_paths(mx::bfloat16, true);
}

}  // namespace
}  // namespace mlxft
