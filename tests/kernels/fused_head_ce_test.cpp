// The fused LM head + cross-entropy against MLX's logsumexp over the full logits: per-token loss
// and dh (through mx::vjp with a random cotangent), both gradient modes, label smoothing, odd
// shapes (N, E, V and the chunk not multiples of anything), one token, 3-D h, masked rows.
//
// Tolerances (h ~N(0,1), W ~N(0, 1/E): logits O(1), nll ~ log V):
//   float32: nll 1e-4 absolute, dh 1e-5 + 1e-4 * max|dh|.
//   bfloat16 compute: against float32 math on bf16-rounded h and W: nll 1e-3 (accumulation
//   order); dh 2e-2 * max|dh| (the softmax gradient is rounded to bf16 before it meets W).
//   Without oneDNN (MLX ops) the bf16 logits themselves are rounded: nll 1e-2.
#include "mlxft/kernels/fused_head_ce.h"

#include <gtest/gtest.h>

#include "kernels/kernel_test_util.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace k = mlxft::kernels;
using kernel_test::bf16_rounded;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;

namespace {

struct Problem {
  mx::array h, w, targets, mask;
};

Problem make(const mx::Shape& lead, int E, int V, uint64_t seed) {
  int n = 1;
  for (int d : lead) n *= d;
  mx::array targets = mx::random::randint(0, V, lead, mx::int32, mx::random::key(seed));
  mx::array mask = mx::astype(
      mx::greater(mx::random::uniform(lead, mx::random::key(seed + 1)), mx::array(0.3f)), mx::float32);
  mx::Shape hs = lead;
  hs.push_back(E);
  Problem p{normal(hs, 1.0f, seed + 2), normal({V, E}, 1.0f / std::sqrt(static_cast<float>(E)), seed + 3),
            targets, mask};
  mx::eval({p.targets, p.mask});
  (void)n;
  return p;
}

// (nll, dh) of f for cotangent g.
std::pair<mx::array, mx::array> value_and_dh(const std::function<mx::array(const mx::array&)>& f,
                                             const mx::array& h, const mx::array& g) {
  auto [out, vjps] =
      mx::vjp([&](const std::vector<mx::array>& in) { return std::vector<mx::array>{f(in[0])}; }, {h}, {g});
  mx::eval({out[0], vjps[0]});
  return {out[0], vjps[0]};
}

void check(const Problem& p, k::FusedHeadCEOptions o, mx::Dtype compute, float nll_tol, float dh_rel) {
  k::FrozenLinearOptions wo;
  wo.compute_dtype = compute;
  const auto head = k::make_frozen_linear_weight(p.w, wo);
  // Reference: float32 math on what the kernel sees.
  const auto ref_head = k::make_frozen_linear_weight(compute == mx::bfloat16 ? bf16_rounded(p.w) : p.w);
  const mx::array hr = compute == mx::bfloat16 ? bf16_rounded(p.h) : mx::astype(p.h, mx::float32);
  const mx::array g = normal(p.targets.shape(), 1.0f, 99);
  auto [nll, dh] = value_and_dh(
      [&](const mx::array& a) { return k::fused_head_ce(a, head, p.targets, p.mask, o); }, p.h, g);
  auto [nll_ref, dh_ref] = value_and_dh(
      [&](const mx::array& a) {
        return k::head_ce_reference(a, ref_head, p.targets, p.mask, o.label_smoothing, mx::Device::cpu);
      },
      hr, g);
  ASSERT_EQ(nll.shape(), p.targets.shape());
  ASSERT_EQ(nll.dtype(), mx::float32);
  ASSERT_EQ(dh.shape(), p.h.shape());
  ASSERT_EQ(dh.dtype(), p.h.dtype());
  EXPECT_LT(max_abs_diff(nll, nll_ref), nll_tol);
  EXPECT_LT(max_abs_diff(dh, dh_ref), 1e-5f + dh_rel * max_abs(dh_ref));
  // Masked rows: zero loss, zero gradient.
  const mx::array off = mx::expand_dims(mx::equal(p.mask, mx::array(0.0f)), -1);
  EXPECT_EQ(mx::sum(mx::abs(mx::where(mx::squeeze(off, -1), nll, mx::array(0.0f)))).item<float>(), 0.0f);
  EXPECT_EQ(mx::sum(mx::abs(mx::where(off, mx::astype(dh, mx::float32), mx::array(0.0f)))).item<float>(),
            0.0f);
}

}  // namespace

TEST(KernelFusedHeadCE, Float32BothGradientModes) {
  const Problem p = make({37}, 45, 301, 1);
  for (bool in_forward : {true, false}) {
    for (int chunk : {8, 256}) {
      k::FusedHeadCEOptions o;
      o.chunk_rows = chunk;
      o.grad_in_forward = in_forward;
      check(p, o, mx::float32, 1e-4f, 1e-4f);
    }
  }
}

TEST(KernelFusedHeadCE, LabelSmoothing) {
  const Problem p = make({29}, 33, 257, 2);
  for (bool in_forward : {true, false}) {
    k::FusedHeadCEOptions o;
    o.chunk_rows = 7;
    o.label_smoothing = 0.1f;
    o.grad_in_forward = in_forward;
    check(p, o, mx::float32, 1e-4f, 1e-4f);
  }
}

TEST(KernelFusedHeadCE, ThreeDimensionalAndOneToken) {
  k::FusedHeadCEOptions o;
  o.chunk_rows = 5;
  check(make({2, 7}, 40, 129, 3), o, mx::float32, 1e-4f, 1e-4f);
  Problem one = make({1, 1}, 64, 1000, 4);
  one.mask = mx::ones({1, 1});
  check(one, o, mx::float32, 1e-4f, 1e-4f);
}

TEST(KernelFusedHeadCE, AllMaskedGivesZeros) {
  Problem p = make({6}, 16, 50, 5);
  p.mask = mx::zeros({6});
  check(p, {}, mx::float32, 1e-6f, 0.0f);
}

TEST(KernelFusedHeadCE, Bfloat16Compute) {
  const Problem p = make({2, 19}, 72, 515, 6);
  for (bool in_forward : {true, false}) {
    k::FusedHeadCEOptions o;
    o.chunk_rows = 16;
    o.grad_in_forward = in_forward;
    const float nll_tol = mlxft::have_onednn() ? 1e-3f : 1e-2f;
    check(p, o, mx::bfloat16, nll_tol, 2e-2f);
    Problem pb = p;
    pb.h = mx::astype(p.h, mx::bfloat16);
    check(pb, o, mx::bfloat16, nll_tol, 2e-2f);
  }
}

TEST(KernelFusedHeadCE, QuantizedHead) {
  const Problem p = make({21}, 64, 200, 7);
  auto q = mx::quantize(p.w, 32, 4);
  const mx::array wd = mx::dequantize(q[0], q[1], q[2], 32, 4);
  const auto head =
      k::make_frozen_linear_weight(q[0], q[1], q[2], 32, 4, {}, k::QuantizedMode::DequantizePerCall);
  const auto ref = k::make_frozen_linear_weight(wd);
  const mx::array nll = k::fused_head_ce(p.h, head, p.targets, p.mask);
  EXPECT_LT(max_abs_diff(nll, k::head_ce_reference(p.h, ref, p.targets, p.mask)), 1e-4f);
}

TEST(KernelFusedHeadCE, RejectsBadShapes) {
  const Problem p = make({5}, 8, 20, 8);
  const auto head = k::make_frozen_linear_weight(p.w);
  EXPECT_THROW(k::fused_head_ce(p.h, head, mx::zeros({4}, mx::int32), p.mask), mlxft::Error);
  EXPECT_THROW(k::fused_head_ce(normal({5, 9}, 1.0f, 1), head, p.targets, p.mask), mlxft::Error);
  k::FusedHeadCEOptions o;
  o.label_smoothing = 1.0f;
  EXPECT_THROW(k::fused_head_ce(p.h, head, p.targets, p.mask, o), mlxft::Error);
}
