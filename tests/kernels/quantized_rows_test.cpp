// The few-row quantized product against MLX's quantized_matmul: bits, groups, rows, gradient.
#include "mlxft/kernels/quantized_rows.h"

#include <gtest/gtest.h>

#include "kernel_test_util.h"

namespace {

namespace mx = mlx::core;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::quantized_rows_matmul;
using mlxft::kernels::quantized_rows_supported;

struct Quantized {
  mx::array w{0}, scales{0}, biases{0};
};

Quantized quantize(int n, int k, int group, int bits, uint64_t seed) {
  auto q = mx::quantize(normal({n, k}, 0.5f, seed), group, bits);
  mx::eval(q);
  return {q[0], q[1], q[2]};
}

TEST(KernelQuantizedRows, MatchesMlxQuantizedMatmul) {
  for (int bits : {4, 8}) {
    for (int group : {32, 64, 128}) {
      for (int rows : {1, 3, 8}) {
        const Quantized q = quantize(77, 256, group, bits, 10 + bits + group);
        const mx::array x = normal({rows, 256}, 1.0f, 20 + rows);
        const mx::array want = mx::quantized_matmul(x, q.w, q.scales, q.biases, true, group, bits);
        ASSERT_TRUE(quantized_rows_supported(x, group, bits));
        const mx::array got = quantized_rows_matmul(x, q.w, q.scales, q.biases, group, bits);
        EXPECT_EQ(got.shape(), want.shape());
        EXPECT_LT(max_abs_diff(got, want), 2e-5f * std::max(1.0f, max_abs(want)))
            << bits << " bits, group " << group << ", " << rows << " rows";
      }
    }
  }
}

TEST(KernelQuantizedRows, KeepsLeadingShapeAndDtype) {
  const Quantized q = quantize(40, 64, 32, 4, 3);
  const mx::array x = mx::astype(normal({1, 1, 64}, 1.0f, 4), mx::bfloat16);
  const mx::array y = quantized_rows_matmul(x, q.w, q.scales, q.biases, 32, 4);
  EXPECT_EQ(y.shape(), (mx::Shape{1, 1, 40}));
  EXPECT_EQ(y.dtype(), mx::bfloat16);
}

TEST(KernelQuantizedRows, GradientIsMlxs) {
  const Quantized q = quantize(48, 128, 64, 4, 5);
  const mx::array x = normal({2, 128}, 1.0f, 6), w = normal({2, 48}, 1.0f, 7);
  auto f = [&](const mx::array& in) {
    return mx::sum(mx::multiply(quantized_rows_matmul(in, q.w, q.scales, q.biases, 64, 4), w));
  };
  auto r = [&](const mx::array& in) {
    return mx::sum(mx::multiply(mx::quantized_matmul(in, q.w, q.scales, q.biases, true, 64, 4), w));
  };
  EXPECT_LT(max_abs_diff(mx::grad(f)(x), mx::grad(r)(x)), 1e-4f);
}

TEST(KernelQuantizedRows, SupportedOnlyForFewRowsAndKnownLayouts) {
  EXPECT_FALSE(quantized_rows_supported(mx::zeros({9, 64}), 32, 4));  // a prompt: the dequantizing path
  EXPECT_FALSE(quantized_rows_supported(mx::zeros({1, 64}), 32, 3));
  EXPECT_FALSE(quantized_rows_supported(mx::zeros({1, 64}), 16, 4));
  EXPECT_FALSE(quantized_rows_supported(mx::zeros({1, 64}, mx::float16), 32, 4));
}

}  // namespace
