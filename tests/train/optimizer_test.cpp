// AdamW and SGD against values computed by hand (double precision) for a few steps, clipping
// against the global norm, and exact state save/restore.
#include "mlxft/train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mlxft/train/clip.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace {

// One scalar parameter through PyTorch's AdamW rule in double precision.
struct RefAdamW {
  double p, m = 0, v = 0, lr, b1, b2, eps, wd;
  int t = 0;
  void step(double g) {
    ++t;
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
    p -= lr * mhat / (std::sqrt(vhat) + eps);
  }
};

}  // namespace

TEST(TrainOptimizer, AdamWMatchesHandComputedSteps) {
  mlxft::OptimizerConfig c{"adamw", 0.1, 0.9, 0.999, 1e-8, 0.0};
  auto opt = mlxft::make_optimizer(c);
  std::vector<mx::array> p = {mx::array({0.5f, -1.0f}, {2})};
  RefAdamW r0{0.5, 0, 0, 0.01, 0.9, 0.999, 1e-8, 0.1}, r1{-1.0, 0, 0, 0.01, 0.9, 0.999, 1e-8, 0.1};
  const float grads[3][2] = {{0.2f, -3.0f}, {-0.1f, 1.0f}, {0.4f, 0.0f}};
  for (auto& g : grads) {
    p = opt->update(p, {mx::array({g[0], g[1]}, {2})}, 0.01);
    mx::eval(p);
    r0.step(g[0]);
    r1.step(g[1]);
  }
  EXPECT_NEAR(p[0].data<float>()[0], r0.p, 1e-6);
  EXPECT_NEAR(p[0].data<float>()[1], r1.p, 1e-6);
  EXPECT_EQ(opt->steps(), 3);
  // First step of mlxft's AdamW moves each weight by lr (bias correction makes m/sqrt(v) = sign(g)).
  auto fresh = mlxft::make_optimizer({"adamw", 0.0, 0.9, 0.999, 1e-8, 0.0});
  auto first = fresh->update({mx::array({1.0f, 1.0f}, {2})}, {mx::array({5.0f, -0.5f}, {2})}, 0.01);
  mx::eval(first);
  EXPECT_NEAR(first[0].data<float>()[0], 0.99f, 1e-6);
  EXPECT_NEAR(first[0].data<float>()[1], 1.01f, 1e-6);
}

TEST(TrainOptimizer, AdamWWeightDecayIsDecoupled) {
  // Zero gradient: only the decay lr * wd * p acts.
  auto opt = mlxft::make_optimizer({"adamw", 0.5, 0.9, 0.999, 1e-8, 0.0});
  auto p = opt->update({mx::array({2.0f}, {1})}, {mx::array({0.0f}, {1})}, 0.1);
  EXPECT_NEAR(p[0].item<float>(), 2.0f * (1 - 0.1 * 0.5), 1e-7);
}

TEST(TrainOptimizer, SgdPlainAndMomentum) {
  auto plain = mlxft::make_optimizer({"sgd", 0.0, 0.9, 0.999, 1e-8, 0.0});
  auto p = plain->update({mx::array({1.0f, 2.0f}, {2})}, {mx::array({0.5f, -1.0f}, {2})}, 1.0);
  mx::eval(p);
  EXPECT_FLOAT_EQ(p[0].data<float>()[0], 0.5f);
  EXPECT_FLOAT_EQ(p[0].data<float>()[1], 3.0f);

  auto mom = mlxft::make_optimizer({"sgd", 0.0, 0.9, 0.999, 1e-8, 0.5});
  std::vector<mx::array> q = {mx::array({0.0f}, {1})};
  q = mom->update(q, {mx::array({1.0f}, {1})}, 0.1);  // buf = 1, q = -0.1
  q = mom->update(q, {mx::array({1.0f}, {1})}, 0.1);  // buf = 1.5, q = -0.25
  EXPECT_NEAR(q[0].item<float>(), -0.25f, 1e-7);
}

TEST(TrainOptimizer, StateRoundTripContinuesIdentically) {
  mlxft::OptimizerConfig c{"adamw", 0.01, 0.9, 0.999, 1e-8, 0.0};
  auto a = mlxft::make_optimizer(c);
  std::vector<mx::array> p = {mx::array({0.3f, 0.7f}, {2}), mx::array({1.0f}, {1, 1})};
  std::vector<mx::array> g = {mx::array({0.1f, -0.2f}, {2}), mx::array({0.3f}, {1, 1})};
  p = a->update(p, g, 1e-2);
  mx::eval(p);
  auto b = mlxft::make_optimizer(c);
  b->load_state(a->state(), p, "test");
  auto pa = a->update(p, g, 1e-2);
  auto pb = b->update(p, g, 1e-2);
  mx::eval(pa);
  mx::eval(pb);
  EXPECT_TRUE(mx::array_equal(pa[0], pb[0]).item<bool>());
  EXPECT_TRUE(mx::array_equal(pa[1], pb[1]).item<bool>());
  EXPECT_EQ(b->steps(), 2);
  // A state for other shapes is refused.
  auto c2 = mlxft::make_optimizer(c);
  EXPECT_THROW(c2->load_state(a->state(), {mx::zeros({3})}, "test"), mlxft::Error);
}

TEST(TrainOptimizer, UnknownKindIsConfigError) {
  EXPECT_THROW(mlxft::make_optimizer({"adagrad"}), mlxft::Error);
}

TEST(TrainClip, ScalesToMaxNormAndReportsNormBeforeClipping) {
  std::vector<mx::array> g = {mx::array({3.0f}, {1}), mx::array({4.0f, 0.0f}, {2})};  // norm 5
  auto r = mlxft::clip_by_global_norm(g, 1.0);
  EXPECT_NEAR(r.norm.item<float>(), 5.0f, 1e-6);
  EXPECT_NEAR(mlxft::global_norm(r.grads).item<float>(), 1.0f, 1e-5);
  EXPECT_NEAR(r.grads[0].item<float>(), 0.6f, 1e-5);
  // Below the limit: untouched.
  auto small = mlxft::clip_by_global_norm(g, 10.0);
  mx::eval(small.grads);
  EXPECT_FLOAT_EQ(small.grads[1].data<float>()[0], 4.0f);
  // 0 disables.
  auto off = mlxft::clip_by_global_norm(g, 0.0);
  EXPECT_FLOAT_EQ(off.grads[0].item<float>(), 3.0f);
}
