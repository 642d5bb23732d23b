// masked_cross_entropy against values computed by hand from a softmax.
#include "mlxft/objective/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace {

double nll(const std::vector<float>& row, int target) {
  double mx_v = row[0];
  for (float v : row) mx_v = std::max<double>(mx_v, v);
  double s = 0;
  for (float v : row) s += std::exp(v - mx_v);
  return std::log(s) + mx_v - row[target];
}

}  // namespace

TEST(TrainLoss, SumsOnlyMaskedTokens) {
  // B=1, T=3, V=4
  std::vector<float> vals = {1, 2, 3, 4, 0, 0, 5, 0, -1, 2, 0.5f, 0};
  mx::array logits(vals.data(), {1, 3, 4}, mx::float32);
  mx::array targets({3, 2, 0}, {1, 3}, mx::int32);
  mx::array mask({1.0f, 0.0f, 1.0f}, {1, 3});
  auto r = mlxft::masked_cross_entropy(logits, targets, mask);
  mx::eval({r.nll_sum, r.tokens});
  const double expected = nll({1, 2, 3, 4}, 3) + nll({-1, 2, 0.5f, 0}, 0);
  EXPECT_NEAR(r.nll_sum.item<float>(), expected, 1e-5);
  EXPECT_EQ(r.tokens.item<float>(), 2.0f);
  EXPECT_EQ(r.nll_sum.dtype(), mx::float32);
}

TEST(TrainLoss, LabelSmoothingMatchesDefinition) {
  std::vector<float> row = {0.3f, -1.0f, 2.0f};
  mx::array logits(row.data(), {1, 1, 3}, mx::float32);
  mx::array targets({1}, {1, 1}, mx::int32);
  mx::array mask({1.0f}, {1, 1});
  const float eps = 0.1f;
  auto r = mlxft::masked_cross_entropy(logits, targets, mask, eps);
  double uniform = 0;
  for (int v = 0; v < 3; ++v) uniform += nll(row, v) / 3.0;
  const double expected = (1 - eps) * nll(row, 1) + eps * uniform;
  EXPECT_NEAR(r.nll_sum.item<float>(), expected, 1e-5);
}

TEST(TrainLoss, Bf16LogitsAreUpcast) {
  std::vector<float> vals = {1, 2, 3, 4};
  mx::array logits = mx::astype(mx::array(vals.data(), {1, 1, 4}, mx::float32), mx::bfloat16);
  auto r = mlxft::masked_cross_entropy(logits, mx::array({0}, {1, 1}, mx::int32), mx::array({1.0f}, {1, 1}));
  EXPECT_EQ(r.nll_sum.dtype(), mx::float32);
  EXPECT_NEAR(r.nll_sum.item<float>(), nll({1, 2, 3, 4}, 0), 1e-4);
}

TEST(TrainLoss, ShapeMismatchIsTrainingError) {
  mx::array logits = mx::zeros({1, 3, 4});
  EXPECT_THROW(mlxft::masked_cross_entropy(logits, mx::zeros({1, 2}, mx::int32), mx::zeros({1, 2})),
               mlxft::Error);
}
