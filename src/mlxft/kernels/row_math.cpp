#include "mlxft/kernels/row_math.h"

#include <cmath>
#include <limits>

#include "mlxft/kernels/simd_exp.h"
#include "mlxft/util/cpu_features.h"

namespace mlxft::kernels {
namespace {

// ---- portable --------------------------------------------------------------------------------

RowStats stats_portable(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity(), s = 0.0f;
  for (int64_t v = 0; v < n; ++v) m = std::max(m, x[v]);
  float e = 0.0f;
  for (int64_t v = 0; v < n; ++v) {
    e += std::exp(x[v] - m);
    s += x[v];
  }
  return {m, e, s};
}

template <class Out, class Store>
void grad_portable(const float* x, int64_t n, float lse, float e, int64_t target, float scale, Out* out,
                   Store store) {
  const float u = e / static_cast<float>(n);
  const float xt = target >= 0 ? x[target] : 0.0f;  // read first: out may alias x
  for (int64_t v = 0; v < n; ++v) store(out + v, scale * (std::exp(x[v] - lse) - u));
  if (target >= 0) store(out + target, scale * (std::exp(xt - lse) - u - (1.0f - e)));
}

void store_f32(float* p, float v) {
  *p = v;
}
void store_bf16(uint16_t* p, float v) {
  *p = to_bf16_bits(v);
}

void masked_softmax_portable(const float* x, int64_t nv, int64_t n, float scale, float* out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t v = 0; v < nv; ++v) m = std::max(m, scale * x[v]);
  float z = 0.0f;
  for (int64_t v = 0; v < nv; ++v) z += (out[v] = std::exp(scale * x[v] - m));
  const float r = 1.0f / z;
  for (int64_t v = 0; v < nv; ++v) out[v] *= r;
  for (int64_t v = nv; v < n; ++v) out[v] = 0.0f;
}

void softmax_backward_portable(const float* p, const float* g, int64_t nv, int64_t n, float scale, float* out) {
  float d = 0.0f;
  for (int64_t v = 0; v < nv; ++v) d += g[v] * p[v];
  for (int64_t v = 0; v < nv; ++v) out[v] = scale * p[v] * (g[v] - d);
  for (int64_t v = nv; v < n; ++v) out[v] = 0.0f;
}

// ---- AVX-512 ---------------------------------------------------------------------------------
#if defined(__x86_64__)

MLXFT_AVX512_TARGET RowStats stats_avx512(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vm = ninf;
  int64_t v = 0;
  for (; v + 16 <= n; v += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + v));
  const __mmask16 tail = lanes(n - v);  // n - v < 16 here
  vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(ninf, tail, x + v));
  const float m = _mm512_reduce_max_ps(vm);
  const __m512 bm = _mm512_set1_ps(m);
  __m512 ve = _mm512_setzero_ps(), vs = _mm512_setzero_ps();
  for (v = 0; v + 16 <= n; v += 16) {
    const __m512 xv = _mm512_loadu_ps(x + v);
    ve = _mm512_add_ps(ve, exp512(_mm512_sub_ps(xv, bm)));
    vs = _mm512_add_ps(vs, xv);
  }
  const __m512 xt = _mm512_mask_loadu_ps(bm, tail, x + v);  // lanes past n read as max: masked out
  ve = _mm512_mask_add_ps(ve, tail, ve, exp512(_mm512_sub_ps(xt, bm)));
  vs = _mm512_mask_add_ps(vs, tail, vs, xt);
  return {m, _mm512_reduce_add_ps(ve), _mm512_reduce_add_ps(vs)};
}

template <bool kBf16>
MLXFT_AVX512_TARGET void grad_avx512(const float* x, int64_t n, float lse, float e, int64_t target,
                                     float scale, void* out) {
  const float u = e / static_cast<float>(n);
  const float xt = target >= 0 ? x[target] : 0.0f;  // read first: out may alias x
  const __m512 bl = _mm512_set1_ps(lse), bu = _mm512_set1_ps(u), bs = _mm512_set1_ps(scale);
  for (int64_t v = 0; v < n; v += 16) {
    const __mmask16 k = lanes(n - v);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + v);
    const __m512 g = _mm512_mul_ps(bs, _mm512_sub_ps(exp512(_mm512_sub_ps(xv, bl)), bu));
    if constexpr (kBf16) {
      _mm256_mask_storeu_epi16(static_cast<uint16_t*>(out) + v, k, bf16_512(g));
    } else {
      _mm512_mask_storeu_ps(static_cast<float*>(out) + v, k, g);
    }
  }
  if (target >= 0) {
    const float g = scale * (std::exp(xt - lse) - u - (1.0f - e));
    if constexpr (kBf16) {
      static_cast<uint16_t*>(out)[target] = to_bf16_bits(g);
    } else {
      static_cast<float*>(out)[target] = g;
    }
  }
}

MLXFT_AVX512_TARGET void to_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  for (int64_t v = 0; v < n; v += 16) {
    const __mmask16 k = lanes(n - v);
    _mm256_mask_storeu_epi16(out + v, k, bf16_512(_mm512_maskz_loadu_ps(k, x + v)));
  }
}

MLXFT_AVX512_TARGET void from_bf16_avx512(const uint16_t* x, int64_t n, float* out) {
  for (int64_t v = 0; v < n; v += 16) {
    const __mmask16 k = lanes(n - v);
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, x + v));
    _mm512_mask_storeu_ps(out + v, k, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
}

MLXFT_AVX512_TARGET void masked_softmax_avx512(const float* x, int64_t nv, int64_t n, float scale, float* out) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity()), bs = _mm512_set1_ps(scale);
  __m512 vm = ninf;
  for (int64_t v = 0; v < nv; v += 16)
    vm = _mm512_max_ps(vm, _mm512_mask_mul_ps(ninf, lanes(nv - v), bs, _mm512_maskz_loadu_ps(lanes(nv - v), x + v)));
  const __m512 bm = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
  __m512 vz = _mm512_setzero_ps();
  for (int64_t v = 0; v < nv; v += 16) {
    const __mmask16 k = lanes(nv - v);
    const __m512 e = exp512(_mm512_fmsub_ps(bs, _mm512_maskz_loadu_ps(k, x + v), bm));
    vz = _mm512_mask_add_ps(vz, k, vz, e);
    _mm512_mask_storeu_ps(out + v, k, e);
  }
  const __m512 r = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vz));
  for (int64_t v = 0; v < nv; v += 16) {
    const __mmask16 k = lanes(nv - v);
    _mm512_mask_storeu_ps(out + v, k, _mm512_mul_ps(r, _mm512_maskz_loadu_ps(k, out + v)));
  }
  for (int64_t v = nv; v < n; ++v) out[v] = 0.0f;
}

MLXFT_AVX512_TARGET void softmax_backward_avx512(const float* p, const float* g, int64_t nv, int64_t n,
                                                 float scale, float* out) {
  __m512 vd = _mm512_setzero_ps();
  for (int64_t v = 0; v < nv; v += 16) {
    const __mmask16 k = lanes(nv - v);
    vd = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, g + v), _mm512_maskz_loadu_ps(k, p + v), vd);
  }
  const __m512 bd = _mm512_set1_ps(_mm512_reduce_add_ps(vd)), bs = _mm512_set1_ps(scale);
  for (int64_t v = 0; v < nv; v += 16) {
    const __mmask16 k = lanes(nv - v);
    const __m512 pv = _mm512_maskz_loadu_ps(k, p + v);
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, g + v), bd);
    _mm512_mask_storeu_ps(out + v, k, _mm512_mul_ps(bs, _mm512_mul_ps(pv, d)));
  }
  for (int64_t v = nv; v < n; ++v) out[v] = 0.0f;
}

#endif

}  // namespace

RowStats row_stats(const float* x, int64_t n) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return stats_avx512(x, n);
#endif
  return stats_portable(x, n);
}

void row_softmax_grad(const float* x, int64_t n, float lse, float e, int64_t target, float scale,
                      float* out) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return grad_avx512<false>(x, n, lse, e, target, scale, out);
#endif
  grad_portable(x, n, lse, e, target, scale, out, store_f32);
}

void row_softmax_grad(const float* x, int64_t n, float lse, float e, int64_t target, float scale,
                      uint16_t* out_bf16) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return grad_avx512<true>(x, n, lse, e, target, scale, out_bf16);
#endif
  grad_portable(x, n, lse, e, target, scale, out_bf16, store_bf16);
}

void row_masked_softmax(const float* x, int64_t n_valid, int64_t n, float scale, float* out) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return masked_softmax_avx512(x, n_valid, n, scale, out);
#endif
  masked_softmax_portable(x, n_valid, n, scale, out);
}

void row_softmax_backward(const float* p, const float* g, int64_t n_valid, int64_t n, float scale, float* out) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return softmax_backward_avx512(p, g, n_valid, n, scale, out);
#endif
  softmax_backward_portable(p, g, n_valid, n, scale, out);
}

void to_bf16(const float* x, int64_t n, uint16_t* out) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return to_bf16_avx512(x, n, out);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = to_bf16_bits(x[i]);
}

void from_bf16(const uint16_t* x, int64_t n, float* out) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return from_bf16_avx512(x, n, out);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = from_bf16_bits(x[i]);
}

}  // namespace mlxft::kernels
