// The fused RoPE-and-heads kernel against MLX's reshape, transpose and fast::rope: values, the
// gradient, odd head sizes, one token, an offset, threads.
#include "mlxft/kernels/rope_heads.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::rope_heads;
using mlxft::kernels::rope_heads_reference;

std::vector<float> inverse_frequencies(int D, float theta) {
  std::vector<float> inv;
  for (int i = 0; i < D / 2; ++i) inv.push_back(static_cast<float>(std::pow(theta, -2.0 * i / D)));
  return inv;
}

void expect_matches(int B, int T, int H, int D, int offset, float tol, uint64_t seed) {
  const std::vector<float> inv = inverse_frequencies(D, 10000.0f);
  const mx::array x = normal({B, T, H * D}, 1.0f, seed), w = normal({B, H, T, D}, 1.0f, seed + 1);
  const mx::array y = rope_heads(x, H, inv, offset);
  EXPECT_EQ(y.shape(), (mx::Shape{B, H, T, D}));
  EXPECT_LT(max_abs_diff(y, rope_heads_reference(x, H, inv, offset)), tol);
  auto loss = [&](bool kernel) {
    return [&, kernel](const mx::array& in) {
      return mx::sum(mx::multiply(
          kernel ? rope_heads(in, H, inv, offset) : rope_heads_reference(in, H, inv, offset), w));
    };
  };
  const mx::array gk = mx::grad(loss(true))(x), gr = mx::grad(loss(false))(x);
  EXPECT_EQ(gk.shape(), x.shape());
  EXPECT_LT(max_abs_diff(gk, gr), tol);
}

TEST(KernelRopeHeads, MatchesMlx) {
  expect_matches(1, 1, 1, 2, 0, 1e-6f, 1);       // one token, one pair
  expect_matches(2, 5, 3, 6, 0, 1e-5f, 2);       // odd half (3 pairs), odd heads
  expect_matches(2, 37, 4, 64, 7, 1e-5f, 3);     // head_dim 64 after 7 cached tokens
  expect_matches(1, 3, 2, 128, 3000, 2e-3f, 4);  // far positions: float32 angles of ~3000 radians
}

// The rotation itself, by hand: position 1, one pair, frequency 1: (x0, x1) turns by 1 radian.
TEST(KernelRopeHeads, RotatesThePairByItsAngle) {
  const float x0 = 0.6f, x1 = -1.3f;
  const mx::array x = mx::reshape(mx::array({0.0f, 0.0f, x0, x1}), {1, 2, 2});
  const mx::array y = rope_heads(x, 1, {1.0f}, 0);
  const std::vector<float> want{0.0f, 0.0f, x0 * std::cos(1.0f) - x1 * std::sin(1.0f),
                                x1 * std::cos(1.0f) + x0 * std::sin(1.0f)};
  EXPECT_LT(max_abs_diff(y, mx::reshape(mx::array(want.data(), {4}), {1, 1, 2, 2})), 1e-6f);
}

TEST(KernelRopeHeads, SameOnOneThreadAndMany) {
  const mx::array x = normal({2, 300, 4 * 16}, 1.0f, 5);
  const std::vector<float> inv = inverse_frequencies(16, 500000.0f);
  const int threads = mlxft::kernels::kernel_threads();
  mlxft::kernels::set_kernel_threads(1);
  const mx::array one = rope_heads(x, 4, inv, 2);
  mx::eval(one);
  mlxft::kernels::set_kernel_threads(3);
  const mx::array many = rope_heads(x, 4, inv, 2);
  mx::eval(many);
  mlxft::kernels::set_kernel_threads(threads);
  EXPECT_EQ(max_abs_diff(one, many), 0.0f);
}

// bfloat16 x: rotated in float32 and rounded once, so exactly the float32 kernel's results on the same
// values, rounded, gradient included; within bfloat16 rounding of MLX's fast::rope.
TEST(KernelRopeHeads, BfloatSixteenIsTheFloat32ResultRounded) {
  const auto b16 = [](const mx::array& a) { return mx::astype(a, mx::bfloat16); };
  const std::vector<float> inv = inverse_frequencies(64, 10000.0f);
  const mx::array x = kernel_test::bf16_rounded(normal({2, 37, 3 * 64}, 1.0f, 6)),
                  w = kernel_test::bf16_rounded(normal({2, 3, 37, 64}, 1.0f, 7));
  const mx::array y = rope_heads(b16(x), 3, inv, 5);
  EXPECT_EQ(y.dtype(), mx::bfloat16);
  EXPECT_EQ(max_abs_diff(y, b16(rope_heads(x, 3, inv, 5))), 0.0f);
  EXPECT_LT(max_abs_diff(y, rope_heads_reference(x, 3, inv, 5)), 1.0f / 64);
  auto dx = [&](const mx::array& xx, const mx::array& ww) {
    return mx::grad(
        [&](const mx::array& in) { return mx::sum(mx::multiply(rope_heads(in, 3, inv, 5), ww)); })(xx);
  };
  const mx::array gb = dx(b16(x), b16(w));
  EXPECT_EQ(gb.dtype(), mx::bfloat16);
  EXPECT_EQ(max_abs_diff(gb, b16(dx(x, w))), 0.0f);
}

TEST(KernelRopeHeads, RejectsBadShapes) {
  EXPECT_THROW(rope_heads(mx::zeros({2, 3}), 1, {1.0f}, 0), mlxft::Error);      // not 3-D
  EXPECT_THROW(rope_heads(mx::zeros({1, 2, 6}), 4, {1.0f}, 0), mlxft::Error);   // 6 not a multiple of 4
  EXPECT_THROW(rope_heads(mx::zeros({1, 2, 8}), 2, {1.0f}, 0), mlxft::Error);   // D 4 needs 2 frequencies
  EXPECT_THROW(rope_heads(mx::zeros({1, 2, 4}), 2, {1.0f}, -1), mlxft::Error);  // negative offset
}

}  // namespace
