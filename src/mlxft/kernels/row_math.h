// Row kernels of the fused cross-entropy: statistics and the softmax gradient of one logit row.
//
// Contract, for a row x[0..n) of float32 logits:
//   row_stats:        max = max_v x[v], sumexp = sum_v exp(x[v] - max), sum = sum_v x[v]
//   row_softmax_grad: out[v] = scale * (exp(x[v] - lse) - u - (v == target ? 1 - e : 0))
//                     with u = e / n for label smoothing e (target < 0: no one-hot term),
//                     written as float32 (out may alias x) or as bfloat16 (round to nearest even) bits.
//   row_masked_softmax:   out[v] = exp(scale x[v] - m) / sum_u<n_valid exp(scale x[u] - m) for v < n_valid
//                         (m = max_u<n_valid scale x[u]), out[v] = 0 for n_valid <= v < n; n_valid >= 1
//   row_softmax_backward: out[v] = scale p[v] (g[v] - sum_u<n_valid g[u] p[u]) for v < n_valid, 0 beyond
//                         (the gradient of the scores given the softmax output p and its cotangent g)
// Runtime dispatch: AVX-512 code (16 lanes, polynomial exp, |rel err| < 2e-7) where the CPU has
// it, portable loops (std::exp) elsewhere. Both return the same values to float rounding.
#pragma once

#include <cstdint>

namespace mlxft::kernels {

struct RowStats {
  float max;
  float sumexp;
  float sum;
};

RowStats row_stats(const float* x, int64_t n);
void row_softmax_grad(const float* x, int64_t n, float lse, float e, int64_t target, float scale, float* out);
void row_softmax_grad(const float* x, int64_t n, float lse, float e, int64_t target, float scale,
                      uint16_t* out_bf16);

void row_masked_softmax(const float* x, int64_t n_valid, int64_t n, float scale, float* out);
void row_softmax_backward(const float* p, const float* g, int64_t n_valid, int64_t n, float scale, float* out);

// float32 -> bfloat16 bits (round to nearest even), and back.
inline uint16_t to_bf16_bits(float f) {
  uint32_t b;
  __builtin_memcpy(&b, &f, 4);
  b += 0x7fffu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}
inline float from_bf16_bits(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}
void to_bf16(const float* x, int64_t n, uint16_t* out);
void from_bf16(const uint16_t* x, int64_t n, float* out);

}  // namespace mlxft::kernels
