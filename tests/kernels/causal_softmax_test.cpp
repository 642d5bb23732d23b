// The causal softmax kernel against MLX's masked softmax: values, gradients, odd shapes, cached keys.
#include "mlxft/kernels/causal_softmax.h"

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::causal_softmax;
using mlxft::kernels::causal_softmax_reference;

// Values and the gradient of sum(P * w) for a random w, kernel vs reference.
void expect_matches(const mx::Shape& shape, float scale, uint64_t seed) {
  const mx::array x = normal(shape, 3.0f, seed);
  const mx::array w = normal(shape, 1.0f, seed + 1);
  const mx::array p = causal_softmax(x, scale);
  const mx::array r = causal_softmax_reference(x, scale);
  EXPECT_LT(max_abs_diff(p, r), 2e-6f);
  auto loss = [&](bool kernel) {
    return [&, kernel](const mx::array& in) {
      return mx::sum(mx::multiply(kernel ? causal_softmax(in, scale) : causal_softmax_reference(in, scale), w));
    };
  };
  const mx::array gk = mx::grad(loss(true))(x);
  const mx::array gr = mx::grad(loss(false))(x);
  EXPECT_LT(max_abs_diff(gk, gr), 2e-5f * std::max(1.0f, kernel_test::max_abs(gr)));
}

TEST(KernelCausalSoftmax, MatchesMlxOnOddShapes) {
  expect_matches({1, 1, 1, 1}, 0.5f, 1);     // one query, one key
  expect_matches({2, 3, 5, 5}, 0.125f, 2);   // rows shorter than a vector
  expect_matches({1, 2, 37, 37}, 0.3f, 3);   // not a multiple of 16
  expect_matches({2, 1, 2, 19, 19}, 1.0f, 4);  // grouped heads: 5-D
}

TEST(KernelCausalSoftmax, CachedKeysShiftTheMask) {
  // 3 new queries after 7 cached keys: query t sees keys 0..t + 7.
  expect_matches({1, 2, 3, 10}, 0.25f, 5);
  const mx::array p = causal_softmax(mx::zeros({1, 1, 3, 10}), 1.0f);
  EXPECT_FLOAT_EQ(mx::slice(p, {0, 0, 0, 0}, {1, 1, 1, 1}).item<float>(), 1.0f / 8);
  EXPECT_FLOAT_EQ(mx::slice(p, {0, 0, 0, 8}, {1, 1, 1, 9}).item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(mx::slice(p, {0, 0, 2, 9}, {1, 1, 3, 10}).item<float>(), 1.0f / 10);
}

TEST(KernelCausalSoftmax, SameOnOneThreadAndMany) {
  const mx::array x = normal({2, 4, 33, 33}, 2.0f, 7);
  const int threads = mlxft::kernels::kernel_threads();
  mlxft::kernels::set_kernel_threads(1);
  const mx::array one = causal_softmax(x, 0.2f);
  mx::eval(one);
  mlxft::kernels::set_kernel_threads(4);
  const mx::array many = causal_softmax(x, 0.2f);
  mx::eval(many);
  mlxft::kernels::set_kernel_threads(threads);
  EXPECT_EQ(max_abs_diff(one, many), 0.0f);
}

TEST(KernelCausalSoftmax, LargeScoresStayFinite) {
  const mx::array x = mx::multiply(normal({1, 1, 20, 20}, 1.0f, 8), mx::array(1e4f));
  const mx::array p = causal_softmax(x, 1.0f);
  EXPECT_TRUE(mx::all(mx::isfinite(p)).item<bool>());
  EXPECT_LT(max_abs_diff(mx::sum(p, -1), mx::ones({1, 1, 20})), 1e-5f);
}

TEST(KernelCausalSoftmax, RejectsBadShapes) {
  EXPECT_THROW(causal_softmax(mx::zeros({4}), 1.0f), mlxft::Error);
  EXPECT_THROW(causal_softmax(mx::zeros({1, 5, 3}), 1.0f), mlxft::Error);  // fewer keys than queries
  EXPECT_THROW(causal_softmax(mx::zeros({2, 2}), 0.0f), mlxft::Error);
}

}  // namespace
