// Helpers of the kernel tests: seeded random arrays and the largest absolute difference.
#pragma once

#include <mlx/mlx.h>

namespace kernel_test {

namespace mx = mlx::core;

inline mx::array normal(const mx::Shape& shape, float stddev, uint64_t seed) {
  mx::array a = mx::multiply(mx::random::normal(shape, mx::float32, 0.0f, 1.0f, mx::random::key(seed)),
                             mx::array(stddev));
  mx::eval(a);
  return a;
}

inline float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(mx::astype(a, mx::float32), mx::astype(b, mx::float32)))).item<float>();
}

inline float max_abs(const mx::array& a) {
  return mx::max(mx::abs(mx::astype(a, mx::float32))).item<float>();
}

// float32 copy of a rounded to bfloat16 (what a bf16 kernel sees).
inline mx::array bf16_rounded(const mx::array& a) {
  return mx::astype(mx::astype(a, mx::bfloat16), mx::float32);
}

}  // namespace kernel_test
