// The SwiGLU kernel against MLX's ops: values and both gradients, odd sizes, threads.
#include "mlxft/kernels/swiglu.h"

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
using kernel_test::bf16_rounded;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::swiglu;
using mlxft::kernels::swiglu_reference;

void expect_matches(const mx::Shape& shape, uint64_t seed) {
  const mx::array g = normal(shape, 4.0f, seed), u = normal(shape, 1.0f, seed + 1), w = normal(shape, 1.0f, seed + 2);
  EXPECT_LT(max_abs_diff(swiglu(g, u), swiglu_reference(g, u)), 1e-5f * max_abs(swiglu_reference(g, u)));
  auto loss = [&](bool kernel) {
    return [&, kernel](const std::vector<mx::array>& in) {
      return mx::sum(mx::multiply(kernel ? swiglu(in[0], in[1]) : swiglu_reference(in[0], in[1]), w));
    };
  };
  const auto gk = mx::grad(loss(true), std::vector<int>{0, 1})({g, u});
  const auto gr = mx::grad(loss(false), std::vector<int>{0, 1})({g, u});
  for (size_t i = 0; i < 2; ++i) EXPECT_LT(max_abs_diff(gk[i], gr[i]), 1e-5f * std::max(1.0f, max_abs(gr[i]))) << i;
}

TEST(KernelSwiglu, MatchesMlx) {
  expect_matches({1}, 1);
  expect_matches({3, 17}, 2);
  expect_matches({2, 5, 4099}, 3);  // more than one chunk, ragged tail
}

TEST(KernelSwiglu, OnlyOneGradient) {
  const mx::array g = normal({4, 9}, 2.0f, 4), u = normal({4, 9}, 1.0f, 5);
  auto f = [&](const mx::array& x) { return mx::sum(swiglu(x, u)); };
  auto r = [&](const mx::array& x) { return mx::sum(swiglu_reference(x, u)); };
  EXPECT_LT(max_abs_diff(mx::grad(f)(g), mx::grad(r)(g)), 1e-5f);
}

TEST(KernelSwiglu, SameOnOneThreadAndMany) {
  const mx::array g = normal({3, 10000}, 3.0f, 6), u = normal({3, 10000}, 1.0f, 7);
  const int threads = mlxft::kernels::kernel_threads();
  mlxft::kernels::set_kernel_threads(1);
  const mx::array one = swiglu(g, u);
  mx::eval(one);
  mlxft::kernels::set_kernel_threads(3);
  const mx::array many = swiglu(g, u);
  mx::eval(many);
  mlxft::kernels::set_kernel_threads(threads);
  EXPECT_EQ(max_abs_diff(one, many), 0.0f);
}

// bfloat16 inputs: computed in float32 and rounded once, so exactly the float32 kernel's results on the
// same values, rounded; and within bfloat16 rounding of MLX's ops in float32.
TEST(KernelSwiglu, BfloatSixteenIsTheFloat32ResultRounded) {
  const mx::Shape shape{3, 4099};
  const mx::array g = bf16_rounded(normal(shape, 4.0f, 8)), u = bf16_rounded(normal(shape, 1.0f, 9)),
                  w = bf16_rounded(normal(shape, 1.0f, 10));
  const auto b16 = [](const mx::array& a) { return mx::astype(a, mx::bfloat16); };
  const mx::array y = swiglu(b16(g), b16(u));
  EXPECT_EQ(y.dtype(), mx::bfloat16);
  EXPECT_EQ(max_abs_diff(y, b16(swiglu(g, u))), 0.0f);
  EXPECT_LT(max_abs_diff(y, swiglu_reference(g, u)), 1.0f / 128 * max_abs(y));
  auto grads = [&](const mx::array& gg, const mx::array& uu, const mx::array& ww) {
    auto f = [&](const std::vector<mx::array>& in) {
      return mx::sum(mx::multiply(swiglu(in[0], in[1]), ww));
    };
    return mx::grad(f, std::vector<int>{0, 1})({gg, uu});
  };
  const auto gb = grads(b16(g), b16(u), b16(w)), gf = grads(g, u, w);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(gb[i].dtype(), mx::bfloat16) << i;
    EXPECT_EQ(max_abs_diff(gb[i], b16(gf[i])), 0.0f) << i;
  }
}

TEST(KernelSwiglu, RejectsMismatchedShapes) {
  EXPECT_THROW(swiglu(mx::zeros({2, 3}), mx::zeros({3, 2})), mlxft::Error);
}

}  // namespace
