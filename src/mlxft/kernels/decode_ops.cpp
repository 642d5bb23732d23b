// Dot products and one query's attention (see decode_ops.h).
#include "mlxft/kernels/decode_ops.h"

#include <algorithm>
#include <cmath>

#include "mlxft/kernels/simd_exp.h"
#include "mlxft/util/cpu_features.h"

namespace mlxft::kernels {
namespace {

float dot_portable(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float v : acc) s += v;
  return s;
}

void attend_portable(const float* q, const float* keys, const float* values, int64_t S, int64_t D, float scale,
                     float* scores, float* out) {
  float top = -INFINITY;
  for (int64_t s = 0; s < S; ++s) top = std::max(top, scores[s] = dot_portable(q, keys + s * D, D) * scale);
  float sum = 0.0f;
  for (int64_t s = 0; s < S; ++s) sum += (scores[s] = std::exp(scores[s] - top));
  std::fill(out, out + D, 0.0f);
  for (int64_t s = 0; s < S; ++s) {
    const float p = scores[s] / sum;
    for (int64_t d = 0; d < D; ++d) out[d] += p * values[s * D + d];
  }
}

#if defined(__x86_64__)
MLXFT_AVX512_TARGET float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = lanes(n - i);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

MLXFT_AVX512_TARGET void attend_avx512(const float* q, const float* keys, const float* values, int64_t S, int64_t D,
                                       float scale, float* scores, float* out) {
  float top = -INFINITY;
  for (int64_t s = 0; s < S; ++s) top = std::max(top, scores[s] = dot_avx512(q, keys + s * D, D) * scale);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t s = 0; s < S; s += 16) {
    const __mmask16 k = lanes(S - s);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, scores + s), _mm512_set1_ps(top)));
    _mm512_mask_storeu_ps(scores + s, k, e);
    sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(k, e));
  }
  const float inv = 1.0f / _mm512_reduce_add_ps(sum);
  for (int64_t d0 = 0; d0 < D; d0 += 64) {  // four 16-lane accumulators of out at a time
    __mmask16 k[4];
    __m512 acc[4];
    for (int j = 0; j < 4; ++j) k[j] = lanes(D - d0 - 16 * j), acc[j] = _mm512_setzero_ps();
    for (int64_t s = 0; s < S; ++s) {
      const __m512 p = _mm512_set1_ps(scores[s] * inv);
      const float* v = values + s * D + d0;
      for (int j = 0; j < 4; ++j) acc[j] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(k[j], v + 16 * j), acc[j]);
    }
    for (int j = 0; j < 4; ++j) _mm512_mask_storeu_ps(out + d0 + 16 * j, k[j], acc[j]);
  }
}
#endif

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
#if defined(__x86_64__)
  static const bool avx512 = cpu_features().avx512f;
  if (avx512) return dot_avx512(a, b, n);
#endif
  return dot_portable(a, b, n);
}

void attend_one(const float* q, const float* keys, const float* values, int64_t S, int64_t D, float scale,
                float* scratch, float* out) {
#if defined(__x86_64__)
  static const bool avx512 = cpu_features().avx512f;
  if (avx512) return attend_avx512(q, keys, values, S, D, scale, scratch, out);
#endif
  attend_portable(q, keys, values, S, D, scale, scratch, out);
}

}  // namespace mlxft::kernels
