// The single-row float32 operations of a decoding step (model/decode_step.h): dot products and one
// query's attention over its cached keys and values.
//
// Contract: dot_f32(a, b, n) = sum_i a[i] b[i]. attend_one() writes out[D] = sum_s p_s v_s over s < S with
// p = softmax(scale * q . k_s), keys and values [S, D] row-major, scratch room for S floats (it holds the
// scores). AVX-512 where the CPU has it (16 lanes, masked tails, the polynomial exp of simd_exp.h),
// portable loops elsewhere; the two agree to float rounding. Single-threaded: callers split heads and rows.
#pragma once

#include <cstdint>

namespace mlxft::kernels {

float dot_f32(const float* a, const float* b, int64_t n);
void attend_one(const float* q, const float* keys, const float* values, int64_t S, int64_t D, float scale,
                float* scratch, float* out);

}  // namespace mlxft::kernels
