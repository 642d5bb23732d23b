// The AVX-512 helpers the row, attention and elementwise kernels share (x86-64 only; internal to kernels/):
// exp512, |relative error| < 2e-7 over the float range, inputs clamped to [-103, 88.7]; float32 ->
// bfloat16 rounding to nearest even (bf16_round_lanes, bf16_512), the vector form of to_bf16_bits();
// lanes(left), the tail mask of a 16-lane loop.
#pragma once

#if defined(__x86_64__)
// GCC 12 reports the intrinsics' own _mm512_undefined_* placeholders as uninitialized (clang, which
// `make fuzz` uses, has no -Wmaybe-uninitialized and fails on the unknown group under -Werror).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#define MLXFT_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace mlxft::kernels {

// The first min(left, 16) lanes (none when left <= 0).
MLXFT_AVX512_TARGET inline __mmask16 lanes(int64_t left) {
  return left >= 16  ? __mmask16(0xffff)
         : left <= 0 ? __mmask16(0)
                     : static_cast<__mmask16>((1u << left) - 1u);
}

// exp(x) = 2^k * p(r), k = round(x / ln2), r = x - k ln2 (two-part ln2), p: degree-6 Taylor.
MLXFT_AVX512_TARGET inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.7f)), _mm512_set1_ps(-103.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145752f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860677e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}


// x rounded to bfloat16 (nearest even): each 32-bit lane's high half holds the bits, the low half is junk.
MLXFT_AVX512_TARGET inline __m512i bf16_round_lanes(__m512 x) {
  const __m512i b = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  return _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
}

// The 16 bfloat16 values of x, packed.
MLXFT_AVX512_TARGET inline __m256i bf16_512(__m512 x) {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(bf16_round_lanes(x), 16));
}

}  // namespace mlxft::kernels
#endif
