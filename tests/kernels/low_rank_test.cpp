// The low-rank product kernels against MLX's expressions: odd shapes (register-block and 16-lane tails
// in every dimension), float32 and bfloat16 inputs and outputs, transposed inputs, threads.
#include "mlxft/kernels/low_rank.h"

#include <gtest/gtest.h>
#include <mlx/primitives.h>

#include <cstdlib>
#include <tuple>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
namespace k = mlxft::kernels;
using kernel_test::bf16_rounded;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;

// The (M, K or N, r) shapes: 1, a block of 4, tails of 4 and of 16 lanes, more than one 64-column block,
// more than one of the outer product's 64-row blocks (with a tail) and of its 4-strip column groups.
const std::vector<std::tuple<int, int, int>> kShapes = {
    {1, 1, 1},     {1, 16, 4},    {3, 15, 3},    {4, 17, 5},     {5, 64, 16}, {9, 65, 8},
    {37, 130, 20}, {64, 576, 16}, {13, 200, 64}, {150, 300, 16}, {129, 97, 7}};

void expect_close(const mx::array& got, const mx::array& want, float rel, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_LE(max_abs_diff(got, want), rel * std::max(1.0f, max_abs(want))) << what;
}

TEST(KernelLowRank, KernelsRunHere) {
  // Without this the comparisons below would compare the reference with itself.
  if (!k::low_rank_kernels_run_on(k::default_stream(), mx::float32))
    GTEST_SKIP() << "no AVX-512 or no oneDNN on this CPU: the ops are MLX's expressions";
  const mx::array x = normal({3, 5}, 1.0f, 1), s = normal({2, 5}, 1.0f, 2);
  EXPECT_EQ(std::string(k::low_rank_down(x, s, 1.0f).primitive().name()), "LowRankDown");
}

TEST(KernelLowRank, DownMatchesMlx) {
  for (auto [M, K, r] : kShapes) {
    const std::string at = std::to_string(M) + "x" + std::to_string(K) + " r" + std::to_string(r);
    const mx::array x = normal({M, K}, 1.0f, 3), s = normal({r, K}, 0.5f, 4);
    expect_close(k::low_rank_down(x, s, 0.75f), k::low_rank_down_reference(x, s, 0.75f), 1e-5f, "f32 " + at);
    // bfloat16 x is widened exactly: the float32 result on the rounded values
    const mx::array xb = mx::astype(x, mx::bfloat16);
    expect_close(k::low_rank_down(xb, s, 2.0f), k::low_rank_down_reference(bf16_rounded(x), s, 2.0f), 1e-5f,
                 "bf16 " + at);
  }
}

TEST(KernelLowRank, UpMatchesMlx) {
  for (auto [M, N, r] : kShapes) {
    const std::string at = std::to_string(M) + "x" + std::to_string(N) + " r" + std::to_string(r);
    const mx::array c = normal({M, r}, 1.0f, 5), s = normal({r, N}, 0.5f, 6), y = normal({M, N}, 1.0f, 7);
    expect_close(k::low_rank_up(c, s, std::nullopt, mx::float32),
                 k::low_rank_up_reference(c, s, std::nullopt, mx::float32), 1e-5f, "no y " + at);
    expect_close(k::low_rank_up(c, s, y, mx::float32), k::low_rank_up_reference(c, s, y, mx::float32), 1e-5f,
                 "y f32 " + at);
    // bfloat16 y in, bfloat16 out: one rounding of the float32 sum, so at most one bf16 step apart
    const mx::array yb = mx::astype(y, mx::bfloat16);
    const mx::array got = k::low_rank_up(c, s, yb, mx::bfloat16);
    const mx::array want = k::low_rank_up_reference(c, s, bf16_rounded(y), mx::float32);
    EXPECT_EQ(got.dtype(), mx::bfloat16) << at;
    EXPECT_LE(max_abs_diff(got, want), 1.0f / 128 * std::max(1.0f, max_abs(want))) << "bf16 " << at;
    expect_close(k::low_rank_up(c, s, y, mx::bfloat16), k::low_rank_up_reference(c, s, y, mx::bfloat16),
                 1.0f / 128, "f32 y, bf16 out " + at);
  }
}

TEST(KernelLowRank, OuterMatchesMlx) {
  for (auto [M, K, r] : kShapes) {
    const std::string at = std::to_string(M) + "x" + std::to_string(K) + " r" + std::to_string(r);
    const mx::array c = normal({M, r}, 1.0f, 8), x = normal({M, K}, 1.0f, 9);
    expect_close(k::low_rank_outer(c, x), k::low_rank_outer_reference(c, x), 1e-5f, "f32 " + at);
    expect_close(k::low_rank_outer(c, mx::astype(x, mx::bfloat16)),
                 k::low_rank_outer_reference(c, bf16_rounded(x)), 1e-5f, "bf16 " + at);
  }
}

// Strided views (a transposed adapter, a transposed activation) are read as their values.
TEST(KernelLowRank, TransposedInputs) {
  const mx::array xt = normal({33, 21}, 1.0f, 10), s = normal({33, 6}, 1.0f, 11),
                  c = normal({21, 6}, 1.0f, 12);
  const mx::array x = mx::transpose(xt), st = mx::transpose(s);
  expect_close(k::low_rank_down(x, st, 1.0f), k::low_rank_down_reference(x, st, 1.0f), 1e-5f, "down");
  expect_close(k::low_rank_outer(mx::transpose(xt), mx::transpose(normal({33, 21}, 1.0f, 13))),
               k::low_rank_outer_reference(mx::transpose(xt), mx::transpose(normal({33, 21}, 1.0f, 13))),
               1e-5f, "outer");
  expect_close(
      k::low_rank_up(c, mx::transpose(normal({9, 6}, 1.0f, 14)), std::nullopt, mx::float32),
      k::low_rank_up_reference(c, mx::transpose(normal({9, 6}, 1.0f, 14)), std::nullopt, mx::float32), 1e-5f,
      "up");
}

// Each output element is summed by one thread in one order: the thread count changes no bit.
TEST(KernelLowRank, SameOnOneThreadAndMany) {
  const mx::array x = normal({301, 577}, 1.0f, 15), s = normal({16, 577}, 1.0f, 16),
                  c = normal({301, 16}, 1.0f, 17);
  const mx::array su = normal({16, 577}, 1.0f, 18);
  const auto run = [&] {
    std::vector<mx::array> out = {k::low_rank_down(x, s, 0.5f), k::low_rank_up(c, su, x, mx::bfloat16),
                                  k::low_rank_outer(c, x)};
    mx::eval(out);
    return out;
  };
  const int threads = k::kernel_threads();
  k::set_kernel_threads(1);
  const auto one = run();
  k::set_kernel_threads(3);
  const auto many = run();
  k::set_kernel_threads(threads);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(max_abs_diff(one[i], many[i]), 0.0f) << i;
}

TEST(KernelLowRank, ShapeErrorsAreClear) {
  const mx::array x = normal({4, 5}, 1.0f, 19), s = normal({2, 6}, 1.0f, 20);
  EXPECT_THROW(k::low_rank_down(x, s, 1.0f), mlxft::Error);
  EXPECT_THROW(k::low_rank_down(normal({2, 2, 5}, 1.0f, 21), s, 1.0f), mlxft::Error);
  EXPECT_THROW(k::low_rank_up(normal({4, 2}, 1.0f, 22), s, normal({3, 6}, 1.0f, 23), mx::float32),
               mlxft::Error);
}

// MLXFT_KERNELS=0: the MLX expressions themselves.
TEST(KernelLowRank, SwitchedOffIsTheReference) {
  setenv("MLXFT_KERNELS", "0", 1);
  const mx::array x = normal({7, 19}, 1.0f, 24), s = normal({3, 19}, 1.0f, 25);
  const mx::array got = k::low_rank_down(x, s, 1.5f);
  unsetenv("MLXFT_KERNELS");
  EXPECT_EQ(max_abs_diff(got, k::low_rank_down_reference(x, s, 1.5f)), 0.0f);
  EXPECT_FALSE(k::low_rank_kernels_run_on(k::default_stream(), mx::float16));
}

}  // namespace
