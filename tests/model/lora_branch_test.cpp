// lora_branch: the value and all three gradients equal MLX's own autodiff of (x A^T) B^T.
#include "mlxft/model/lora_branch.h"

#include <gtest/gtest.h>

#include <vector>

namespace mx = mlx::core;

namespace mlxft {
namespace {

using Arrays = std::vector<mx::array>;

// A loss that weights every output element differently, so a transposed or summed-wrong gradient shows.
Arrays loss_of(const mx::array& z, const mx::array& probe) {
  return {mx::sum(mx::multiply(mx::astype(z, mx::float32), probe))};
}

float max_rel_diff(const mx::array& got, const mx::array& want) {
  const mx::array g = mx::astype(got, mx::float32);
  const mx::array w = mx::astype(want, mx::float32);
  const mx::array err = mx::max(mx::abs(mx::subtract(g, w)));
  const mx::array scale = mx::maximum(mx::max(mx::abs(w)), mx::array(1e-6f));
  return mx::divide(err, scale).item<float>();
}

void expect_matches_autodiff(const mx::Shape& x_shape, int in, int rank, int out, mx::Dtype x_dtype,
                             float tol) {
  const mx::array x = mx::astype(mx::random::normal(x_shape, mx::float32, mx::random::key(1)), x_dtype);
  const mx::array a = mx::random::normal({rank, in}, mx::float32, mx::random::key(2));
  const mx::array b = mx::random::normal({out, rank}, mx::float32, mx::random::key(3));
  mx::Shape z_shape = x_shape;
  z_shape.back() = out;
  const mx::array probe = mx::random::normal(z_shape, mx::float32, mx::random::key(4));

  auto fused = [&](const Arrays& p) { return loss_of(lora_branch(p[0], p[1], p[2]), probe); };
  auto plain = [&](const Arrays& p) {
    return loss_of(mx::matmul(mx::matmul(p[0], mx::transpose(p[1])), mx::transpose(p[2])), probe);
  };
  auto [v1, g1] = mx::value_and_grad(fused, {0, 1, 2})({x, a, b});
  auto [v2, g2] = mx::value_and_grad(plain, {0, 1, 2})({x, a, b});
  mx::eval(v1);
  mx::eval(g1);
  mx::eval(v2);
  mx::eval(g2);

  EXPECT_LE(max_rel_diff(v1[0], v2[0]), tol);
  const mx::array z = lora_branch(x, a, b);
  EXPECT_EQ(z.shape(), z_shape);
  EXPECT_EQ(z.dtype(), mx::promote_types(x_dtype, mx::float32));
  const char* names[] = {"x", "A", "B"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(g1[i].dtype(), g2[i].dtype()) << names[i];
    EXPECT_EQ(g1[i].shape(), g2[i].shape()) << names[i];
    EXPECT_LE(max_rel_diff(g1[i], g2[i]), tol) << "gradient of " << names[i];
  }
}

TEST(LoraBranch, Float32MatchesAutodiffOnOddShapes) {
  expect_matches_autodiff({2, 7, 13}, 13, 3, 11, mx::float32, 1e-5f);
}

TEST(LoraBranch, OneTokenAndTwoDimensionalInput) {
  expect_matches_autodiff({1, 1, 9}, 9, 2, 5, mx::float32, 1e-5f);
  expect_matches_autodiff({4, 6}, 6, 4, 3, mx::float32, 1e-5f);
}

// bfloat16 activations beside float32 adapters: x's gradient comes back in bfloat16 (one rounding).
TEST(LoraBranch, Bfloat16InputKeepsItsGradientDtype) {
  expect_matches_autodiff({2, 5, 16}, 16, 4, 8, mx::bfloat16, 1e-2f);
}

}  // namespace
}  // namespace mlxft
