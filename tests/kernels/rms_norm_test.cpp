// The RMSNorm kernel against MLX's fast::rms_norm: values, both gradients, odd widths, one row,
// threads, and the fallback for other dtypes.
#include "mlxft/kernels/rms_norm.h"

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::rms_norm;

void expect_matches(const mx::Shape& shape, float eps, uint64_t seed) {
  const int E = shape.back();
  const mx::array x = normal(shape, 3.0f, seed), w = normal({E}, 1.0f, seed + 1),
                  c = normal(shape, 1.0f, seed + 2);
  const mx::array want = mx::fast::rms_norm(x, w, eps);
  EXPECT_LT(max_abs_diff(rms_norm(x, w, eps), want), 2e-6f * std::max(1.0f, max_abs(want)));
  auto loss = [&](bool kernel) {
    return [&, kernel](const std::vector<mx::array>& in) {
      return mx::sum(
          mx::multiply(kernel ? rms_norm(in[0], in[1], eps) : mx::fast::rms_norm(in[0], in[1], eps), c));
    };
  };
  const auto gk = mx::grad(loss(true), std::vector<int>{0, 1})({x, w});
  const auto gr = mx::grad(loss(false), std::vector<int>{0, 1})({x, w});
  for (size_t i = 0; i < 2; ++i)
    EXPECT_LT(max_abs_diff(gk[i], gr[i]), 1e-5f * std::max(1.0f, max_abs(gr[i]))) << i;
}

TEST(KernelRmsNorm, MatchesMlx) {
  expect_matches({1}, 1e-6f, 1);           // one row of one
  expect_matches({3, 17}, 1e-5f, 2);       // odd width, a tail past the 16 partial sums
  expect_matches({2, 33, 768}, 1e-6f, 3);  // a small model's rows
  expect_matches({1, 5, 4099}, 1e-2f, 4);  // wide row, large eps
}

// By hand: x = (3, 4), w = (1, 2): r = 1 / sqrt(12.5), y = (3 r, 8 r).
TEST(KernelRmsNorm, NormalisesARow) {
  const mx::array y = rms_norm(mx::array({3.0f, 4.0f}), mx::array({1.0f, 2.0f}), 0.0f);
  const float r = 1.0f / std::sqrt(12.5f);
  EXPECT_LT(max_abs_diff(y, mx::array({3.0f * r, 8.0f * r})), 1e-6f);
}

TEST(KernelRmsNorm, SameOnOneThreadAndMany) {
  const mx::array x = normal({300, 96}, 2.0f, 5), w = normal({96}, 1.0f, 6);
  const int threads = mlxft::kernels::kernel_threads();
  mlxft::kernels::set_kernel_threads(1);
  const mx::array one = rms_norm(x, w, 1e-6f);
  mx::eval(one);
  mlxft::kernels::set_kernel_threads(3);
  const mx::array many = rms_norm(x, w, 1e-6f);
  mx::eval(many);
  mlxft::kernels::set_kernel_threads(threads);
  EXPECT_EQ(max_abs_diff(one, many), 0.0f);
}

// bfloat16 x (and weight): computed in float32 and rounded once, so exactly the float32 kernel's
// results on the same values, rounded, gradient included; within bfloat16 rounding of MLX's op.
TEST(KernelRmsNorm, BfloatSixteenIsTheFloat32ResultRounded) {
  const auto b16 = [](const mx::array& a) { return mx::astype(a, mx::bfloat16); };
  const mx::array x = kernel_test::bf16_rounded(normal({5, 777}, 2.0f, 7)),
                  w = kernel_test::bf16_rounded(normal({777}, 1.0f, 8)),
                  c = kernel_test::bf16_rounded(normal({5, 777}, 1.0f, 9));
  const mx::array y = rms_norm(b16(x), b16(w), 1e-6f);
  EXPECT_EQ(y.dtype(), mx::bfloat16);
  EXPECT_EQ(max_abs_diff(y, b16(rms_norm(x, w, 1e-6f))), 0.0f);
  EXPECT_LT(max_abs_diff(y, mx::fast::rms_norm(x, w, 1e-6f)), 1.0f / 128 * max_abs(y));
  auto dx = [&](const mx::array& xx, const mx::array& ww, const mx::array& cc) {
    return mx::grad([&](const mx::array& in) { return mx::sum(mx::multiply(rms_norm(in, ww, 1e-6f), cc)); })(
        xx);
  };
  const mx::array gb = dx(b16(x), b16(w), b16(c));
  EXPECT_EQ(gb.dtype(), mx::bfloat16);
  EXPECT_EQ(max_abs_diff(gb, b16(dx(x, w, c))), 0.0f);
}

TEST(KernelRmsNorm, OtherDtypesUseMlx) {
  const mx::array x = mx::astype(normal({4, 32}, 1.0f, 7), mx::float16),
                  w = mx::astype(normal({32}, 1.0f, 8), mx::float16);
  const mx::array y = rms_norm(x, w, 1e-6f);
  EXPECT_EQ(y.dtype(), mx::float16);
  EXPECT_EQ(max_abs_diff(y, mx::fast::rms_norm(x, w, 1e-6f)), 0.0f);
}

TEST(KernelRmsNorm, RejectsAWrongWeight) {
  EXPECT_THROW(rms_norm(mx::zeros({2, 3}), mx::zeros({2}), 1e-6f), mlxft::Error);
  EXPECT_THROW(rms_norm(mx::zeros({2, 3}), mx::zeros({1, 3}), 1e-6f), mlxft::Error);
}

}  // namespace
