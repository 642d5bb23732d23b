// Gradient accumulation and the guarded update on a small softmax-regression "model", where the
// gradients of one big batch are easy to compare with those of several micro-batches.
#include "mlxft/train/step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mx = mlx::core;

namespace {

// logits[b,t,:] = W[inputs[b,t], :]  (a bigram table), W [V, V]
mlxft::LossSum bigram_loss(const std::vector<mx::array>& p, const mlxft::Batch& b, const mx::array& /*key*/) {
  mx::array logits = mx::take(p[0], b.inputs, 0);
  return mlxft::masked_cross_entropy(logits, b.targets, b.mask);
}

mlxft::Batch make_batch(int rows, int first_row, int t_len) {
  std::vector<int32_t> in, tg;
  std::vector<float> m;
  for (int r = 0; r < rows; ++r) {
    const int row = first_row + r;
    for (int t = 0; t < t_len; ++t) {
      in.push_back((row * 3 + t) % 5);
      tg.push_back((row + 2 * t) % 5);
      m.push_back((row + t) % 3 == 0 || t < row % 4 ? 1.0f : 0.0f);  // unequal token counts per row
    }
  }
  mlxft::Batch b;
  b.inputs = mx::array(in.begin(), {rows, t_len}, mx::int32);
  b.targets = mx::array(tg.begin(), {rows, t_len}, mx::int32);
  b.mask = mx::array(m.begin(), {rows, t_len}, mx::float32);
  return b;
}

std::vector<mx::array> params() {
  return {mx::random::normal({5, 5}, mx::float32, 0.0f, 1.0f, mx::random::key(3))};
}

std::vector<mx::array> keys(int n) {
  std::vector<mx::array> k;
  for (int i = 0; i < n; ++i) k.push_back(mlxft::dropout_key(42, 1, i));
  return k;
}

}  // namespace

TEST(TrainStep, DropoutKeysDependOnSeedStepAndMicroBatch) {
  auto same = mx::array_equal(mlxft::dropout_key(1, 2, 3), mlxft::dropout_key(1, 2, 3)).item<bool>();
  EXPECT_TRUE(same);
  EXPECT_FALSE(mx::array_equal(mlxft::dropout_key(1, 2, 3), mlxft::dropout_key(1, 2, 4)).item<bool>());
  EXPECT_FALSE(mx::array_equal(mlxft::dropout_key(1, 2, 3), mlxft::dropout_key(1, 3, 3)).item<bool>());
  EXPECT_FALSE(mx::array_equal(mlxft::dropout_key(1, 2, 3), mlxft::dropout_key(2, 2, 3)).item<bool>());
}

// The keys of runs made before dropout_key moved onto util/prng.h, written out: a resumed or repeated
// run must draw the same dropout masks as before.
TEST(TrainStep, DropoutKeysKeepTheirEarlierValues) {
  auto earlier = [](uint64_t seed, int64_t step, int micro) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(step) * 0xBF58476D1CE4E5B9ull +
                 static_cast<uint64_t>(micro) * 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return mx::random::key(z ^ (z >> 31));
  };
  for (uint64_t seed : {0ull, 42ull, 1234567ull}) {
    for (int64_t step : {1, 7, 100000}) {
      for (int micro : {0, 3}) {
        EXPECT_TRUE(mx::array_equal(mlxft::dropout_key(seed, step, micro), earlier(seed, step, micro))
                        .item<bool>())
            << seed << " " << step << " " << micro;
      }
    }
  }
}

TEST(TrainStep, FourMicroBatchesOfTwoEqualOneBatchOfEight) {
  auto p = params();
  auto one = mlxft::accumulate_gradients(bigram_loss, p, {make_batch(8, 0, 6)}, keys(1));
  std::vector<mlxft::Batch> micro;
  for (int i = 0; i < 4; ++i) micro.push_back(make_batch(2, 2 * i, 6));
  auto four = mlxft::accumulate_gradients(bigram_loss, p, micro, keys(4));
  EXPECT_EQ(one.tokens, four.tokens);
  EXPECT_NEAR(one.loss, four.loss, 1e-6);
  EXPECT_TRUE(mx::allclose(one.grads[0], four.grads[0], 1e-5, 1e-6).item<bool>());
  // and it is not the mean of per-micro-batch means (which would weigh tokens unequally)
  mx::array mean_of_means = mx::zeros({5, 5});
  for (const auto& b : micro) {
    auto g = mlxft::accumulate_gradients(bigram_loss, p, {b}, keys(1));
    mean_of_means = mx::add(mean_of_means, mx::multiply(g.grads[0], mx::array(0.25f)));
  }
  EXPECT_FALSE(mx::allclose(one.grads[0], mean_of_means, 1e-5, 1e-6).item<bool>());
}

TEST(TrainStep, NonFiniteLossLeavesParametersAndOptimizerUntouched) {
  auto p = params();
  const mx::array before = mx::array(p[0]);
  auto opt = mlxft::make_optimizer({"adamw", 0.01});
  mlxft::Gradients g;
  g.grads = {mx::ones({5, 5})};
  g.tokens = 10;
  g.loss = std::numeric_limits<double>::quiet_NaN();
  auto r = mlxft::apply_update(p, *opt, g, 1e-3, 1.0);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(r.skip_reason, "nan loss");
  EXPECT_EQ(opt->steps(), 0);
  EXPECT_TRUE(mx::array_equal(p[0], before).item<bool>());

  g.loss = 1.0;
  g.grads = {mx::full({5, 5}, std::numeric_limits<float>::infinity())};
  r = mlxft::apply_update(p, *opt, g, 1e-3, 1.0);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(r.skip_reason, "inf gradient norm");
  EXPECT_EQ(opt->steps(), 0);
  EXPECT_TRUE(mx::array_equal(p[0], before).item<bool>());

  g.grads = {mx::ones({5, 5})};
  r = mlxft::apply_update(p, *opt, g, 1e-3, 1.0);
  EXPECT_TRUE(r.applied);
  EXPECT_NEAR(r.grad_norm, 5.0, 1e-5);
  EXPECT_EQ(opt->steps(), 1);
  EXPECT_FALSE(mx::array_equal(p[0], before).item<bool>());
}
