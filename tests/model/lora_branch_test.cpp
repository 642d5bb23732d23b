// lora_add: the value and all four gradients equal MLX's own autodiff of y + scale (x A^T) B^T.
#include "mlxft/model/lora_branch.h"

#include <gtest/gtest.h>

#include <cmath>
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

// y in y_dtype, x in x_dtype; the adapters float32.
void expect_matches_autodiff(const mx::Shape& x_shape, int in, int rank, int out, mx::Dtype x_dtype,
                             mx::Dtype y_dtype, float scale, float tol) {
  const mx::array x = mx::astype(mx::random::normal(x_shape, mx::float32, mx::random::key(1)), x_dtype);
  const mx::array a = mx::random::normal({rank, in}, mx::float32, mx::random::key(2));
  const mx::array b = mx::random::normal({out, rank}, mx::float32, mx::random::key(3));
  mx::Shape z_shape = x_shape;
  z_shape.back() = out;
  const mx::array y = mx::astype(mx::random::normal(z_shape, mx::float32, mx::random::key(5)), y_dtype);
  const mx::array probe = mx::random::normal(z_shape, mx::float32, mx::random::key(4));

  auto fused = [&](const Arrays& p) { return loss_of(lora_add(p[0], p[1], p[2], p[3], scale), probe); };
  auto plain = [&](const Arrays& p) {
    const mx::array z = mx::matmul(mx::matmul(p[1], mx::transpose(p[2])), mx::transpose(p[3]));
    return loss_of(mx::add(p[0], mx::astype(mx::multiply(mx::array(scale), z), p[0].dtype())), probe);
  };
  auto [v1, g1] = mx::value_and_grad(fused, {0, 1, 2, 3})({y, x, a, b});
  auto [v2, g2] = mx::value_and_grad(plain, {0, 1, 2, 3})({y, x, a, b});
  mx::eval(v1);
  mx::eval(g1);
  mx::eval(v2);
  mx::eval(g2);

  const mx::array sum = lora_add(y, x, a, b, scale);
  // The loss is a sum with cancellation: its rounding is relative to the sum of its terms' sizes.
  const float terms = mx::sum(mx::abs(mx::multiply(mx::astype(sum, mx::float32), probe))).item<float>();
  EXPECT_LE(std::abs((v1[0] - v2[0]).item<float>()), tol * terms);
  EXPECT_EQ(sum.shape(), z_shape);
  EXPECT_EQ(sum.dtype(), y_dtype);
  // Against the plain sum itself (not only the loss), so a wrong scale or a dropped y shows.
  EXPECT_LE(max_rel_diff(sum, mx::add(y, mx::astype(mx::multiply(mx::array(scale),
                                                                 mx::matmul(mx::matmul(x, mx::transpose(a)),
                                                                            mx::transpose(b))),
                                                    y_dtype))),
            tol);
  const char* names[] = {"y", "x", "A", "B"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(g1[i].dtype(), g2[i].dtype()) << names[i];
    EXPECT_EQ(g1[i].shape(), g2[i].shape()) << names[i];
    EXPECT_LE(max_rel_diff(g1[i], g2[i]), tol) << "gradient of " << names[i];
  }
}

TEST(LoraAdd, Float32MatchesAutodiffOnOddShapes) {
  expect_matches_autodiff({2, 7, 13}, 13, 3, 11, mx::float32, mx::float32, 2.0f, 1e-5f);
}

TEST(LoraAdd, OneTokenAndTwoDimensionalInput) {
  expect_matches_autodiff({1, 1, 9}, 9, 2, 5, mx::float32, mx::float32, 0.5f, 1e-5f);
  expect_matches_autodiff({4, 6}, 6, 4, 3, mx::float32, mx::float32, 1.0f, 1e-5f);
}

// bfloat16 activations beside float32 adapters: the sum stays bfloat16, x's gradient comes back in
// bfloat16 (one rounding).
TEST(LoraAdd, Bfloat16KeepsItsDtypes) {
  expect_matches_autodiff({2, 5, 16}, 16, 4, 8, mx::bfloat16, mx::bfloat16, 2.0f, 1e-2f);
}

// A zero scale leaves y exactly (the adapters' initial B is zero in training; here A and B are not).
TEST(LoraAdd, ZeroScaleIsTheFrozenOutput) {
  const mx::array y = mx::random::normal({3, 4}, mx::float32, mx::random::key(7));
  const mx::array x = mx::random::normal({3, 5}, mx::float32, mx::random::key(8));
  const mx::array a = mx::random::normal({2, 5}, mx::float32, mx::random::key(9));
  const mx::array b = mx::random::normal({4, 2}, mx::float32, mx::random::key(10));
  EXPECT_TRUE(mx::array_equal(lora_add(y, x, a, b, 0.0f), y).item<bool>());
}

}  // namespace
}  // namespace mlxft
