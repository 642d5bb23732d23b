// The decoding step's dot product and one-query attention against double-precision sums, at head sizes
// and position counts that leave masked tails (D 40, 64, 72, 130; S 1, 17, 300).
#include "mlxft/kernels/decode_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace mlxft::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(DecodeOps, DotEqualsADoubleSum) {
  for (int64_t n : {1, 15, 16, 31, 33, 576, 1000}) {
    const auto a = random_floats(static_cast<size_t>(n), 1), b = random_floats(static_cast<size_t>(n), 2);
    double want = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      want += static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)];
      scale += std::abs(static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)]);
    }
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), want, 1e-6 * scale + 1e-7) << "n " << n;
  }
}

TEST(DecodeOps, AttendOneIsTheSoftmaxWeightedSumOfValues) {
  for (int64_t D : {40, 64, 72, 130}) {
    for (int64_t S : {1, 17, 300}) {
      const auto q = random_floats(static_cast<size_t>(D), 3);
      const auto k = random_floats(static_cast<size_t>(S * D), 4), v = random_floats(static_cast<size_t>(S * D), 5);
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      std::vector<float> scratch(static_cast<size_t>(S)), out(static_cast<size_t>(D), -1.0f);
      attend_one(q.data(), k.data(), v.data(), S, D, scale, scratch.data(), out.data());
      std::vector<double> p(static_cast<size_t>(S));
      double top = -INFINITY, sum = 0.0;
      for (int64_t s = 0; s < S; ++s) {
        double z = 0.0;
        for (int64_t d = 0; d < D; ++d) z += static_cast<double>(q[static_cast<size_t>(d)]) * k[static_cast<size_t>(s * D + d)];
        p[static_cast<size_t>(s)] = z * scale;
        top = std::max(top, p[static_cast<size_t>(s)]);
      }
      for (double& x : p) sum += (x = std::exp(x - top));
      for (int64_t d = 0; d < D; ++d) {
        double want = 0.0;
        for (int64_t s = 0; s < S; ++s) want += p[static_cast<size_t>(s)] / sum * v[static_cast<size_t>(s * D + d)];
        EXPECT_NEAR(out[static_cast<size_t>(d)], want, 2e-5) << "D " << D << " S " << S << " d " << d;
      }
    }
  }
}

}  // namespace
}  // namespace mlxft::kernels
