// The fused attention's block math (see attention_blocks.h).
#include "mlxft/kernels/attention_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mlxft/kernels/row_math.h"
#include "mlxft/kernels/simd_exp.h"
#include "mlxft/util/cpu_features.h"

namespace mlxft::kernels::attention {
namespace {

// ---- portable --------------------------------------------------------------------------------

void gemm_portable(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float* C, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (!accumulate) std::fill(c, c + N, 0.0f);
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[i * lda + k];
      const float* b = B + k * ldb;
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

float online_row_portable(float* s, int64_t nv, int64_t n, float scale, const float* bias, float& m, float& l) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t v = 0; v < nv; ++v) mx = std::max(mx, s[v] = scale * s[v] + (bias ? bias[v] : 0.0f));
  const float m_new = std::max(m, mx), alpha = std::exp(m - m_new);
  float sum = 0.0f;
  for (int64_t v = 0; v < nv; ++v) sum += (s[v] = std::exp(s[v] - m_new));
  std::fill(s + nv, s + n, 0.0f);
  l = l * alpha + sum;
  m = m_new;
  return alpha;
}

void backward_row_portable(float* st, float* dpt, int64_t first, int64_t n, float scale, float bias,
                           const float* lse, const float* delta) {
  std::fill(st, st + first, 0.0f);
  std::fill(dpt, dpt + first, 0.0f);
  for (int64_t i = first; i < n; ++i) {
    const float p = std::exp(scale * st[i] + bias - lse[i]);
    st[i] = p;
    dpt[i] = p * (dpt[i] - delta[i]);
  }
}

// ---- AVX-512 ---------------------------------------------------------------------------------
#if defined(__x86_64__)

// One RM x (16 NV) tile of C; the last vector's columns are `last`.
template <int RM, int NV>
MLXFT_AVX512_TARGET inline void tile(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                                     int64_t ldc, bool accumulate, __mmask16 last) {
  __m512 c[RM][NV];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      c[r][v] = accumulate ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, C + r * ldc + 16 * v)
                           : _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, B + k * ldb + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(C + r * ldc + 16 * v, v == NV - 1 ? last : 0xffff, c[r][v]);
}

template <int NV>
MLXFT_AVX512_TARGET void column_panel(int64_t M, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                                      float* C, int64_t ldc, bool acc, __mmask16 last) {
  int64_t i = 0;
  for (; i + 6 <= M; i += 6) tile<6, NV>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i + 4 <= M; i += 4) tile<4, NV>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i + 2 <= M; i += 2) tile<2, NV>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i < M; ++i) tile<1, NV>(K, A + i * lda, lda, B, ldb, C + i * ldc, ldc, acc, last);
}

MLXFT_AVX512_TARGET void gemm_avx512(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                                     int64_t ldb, float* C, int64_t ldc, bool acc) {
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    const int64_t w = std::min<int64_t>(64, N - n0);
    const __mmask16 last = lanes(w - 16 * ((w - 1) / 16));
    const float* b = B + n0;
    float* c = C + n0;
    switch ((w + 15) / 16) {
      case 1: column_panel<1>(M, K, A, lda, b, ldb, c, ldc, acc, last); break;
      case 2: column_panel<2>(M, K, A, lda, b, ldb, c, ldc, acc, last); break;
      case 3: column_panel<3>(M, K, A, lda, b, ldb, c, ldc, acc, last); break;
      default: column_panel<4>(M, K, A, lda, b, ldb, c, ldc, acc, last); break;
    }
  }
}

MLXFT_AVX512_TARGET inline __m512 load16(const void* src, bool bf16, int64_t at, __mmask16 k) {
  if (!bf16) return _mm512_maskz_loadu_ps(k, static_cast<const float*>(src) + at);
  const __m256i h = _mm256_maskz_loadu_epi16(k, static_cast<const uint16_t*>(src) + at);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

MLXFT_AVX512_TARGET void load_block_avx512(const void* src, bool bf16, int64_t rows, int64_t D, float* dst) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = lanes(D - d);
      _mm512_mask_storeu_ps(dst + r * D + d, k, load16(src, bf16, r * D + d, k));
    }
}

// The 64-bit halves of each 128-bit lane of a and b, interleaved (low halves, or high halves).
MLXFT_AVX512_TARGET inline __m512 lo64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
MLXFT_AVX512_TARGET inline __m512 hi64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// r[c] becomes column c of the 16 x 16 block whose rows were r[0..15]: 32-bit interleaves of row
// pairs, 64-bit interleaves of those, then two rounds of 128-bit lane shuffles.
MLXFT_AVX512_TARGET inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // r[i + j], lane L: column 4 L + j of rows i .. i + 3
    r[i] = lo64(t[i], t[i + 2]);
    r[i + 1] = hi64(t[i], t[i + 2]);
    r[i + 2] = lo64(t[i + 1], t[i + 3]);
    r[i + 3] = hi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// The transpose in 16 x 16 blocks through registers: rows past `rows` load as zeros and are not
// stored (the caller zeroed dst's padding), columns past D are neither loaded nor stored.
MLXFT_AVX512_TARGET void load_block_t_avx512(const void* src, bool bf16, int64_t rows, int64_t D,
                                             int64_t cols_padded, float* dst) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = std::min<int64_t>(16, rows - r0);
    const __mmask16 row_mask = lanes(nr);
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      const int64_t nd = std::min<int64_t>(16, D - d0);
      const __mmask16 col_mask = lanes(nd);
      __m512 r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = i < nr ? load16(src, bf16, (r0 + i) * D + d0, col_mask) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t c = 0; c < nd; ++c)
        _mm512_mask_storeu_ps(dst + (d0 + c) * cols_padded + r0, row_mask, r[c]);
    }
  }
}

MLXFT_AVX512_TARGET void store_block_avx512(const float* src, int64_t rows, int64_t D, float mul, void* dst,
                                            bool bf16) {
  const __m512 bm = _mm512_set1_ps(mul);
  for (int64_t i = 0; i < rows * D; i += 16) {
    const __mmask16 k = lanes(rows * D - i);
    const __m512 x = _mm512_mul_ps(bm, _mm512_maskz_loadu_ps(k, src + i));
    if (!bf16) {
      _mm512_mask_storeu_ps(static_cast<float*>(dst) + i, k, x);
    } else {
      _mm256_mask_storeu_epi16(static_cast<uint16_t*>(dst) + i, k, bf16_512(x));
    }
  }
}

MLXFT_AVX512_TARGET float online_row_avx512(float* s, int64_t nv, int64_t n, float scale, const float* bias,
                                            float& m, float& l) {
  const __m512 bs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vm = ninf;
  for (int64_t v = 0; v < nv; v += 16) {
    const __mmask16 k = lanes(nv - v);
    __m512 z = _mm512_mul_ps(bs, _mm512_maskz_loadu_ps(k, s + v));
    if (bias) z = _mm512_add_ps(z, _mm512_maskz_loadu_ps(k, bias + v));
    _mm512_mask_storeu_ps(s + v, k, z);
    vm = _mm512_mask_max_ps(vm, k, vm, z);
  }
  const float m_new = std::max(m, _mm512_reduce_max_ps(vm));
  const float alpha = std::exp(m - m_new);
  const __m512 bm = _mm512_set1_ps(m_new);
  __m512 vz = _mm512_setzero_ps();
  for (int64_t v = 0; v < n; v += 16) {
    const __mmask16 k = lanes(n - v), valid = lanes(nv - v);
    const __m512 e = _mm512_maskz_mov_ps(valid, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(valid, s + v), bm)));
    vz = _mm512_add_ps(vz, e);
    _mm512_mask_storeu_ps(s + v, k, e);
  }
  l = l * alpha + _mm512_reduce_add_ps(vz);
  m = m_new;
  return alpha;
}

MLXFT_AVX512_TARGET void backward_row_avx512(float* st, float* dpt, int64_t first, int64_t n, float scale,
                                             float bias, const float* lse, const float* delta) {
  const __m512 bs = _mm512_set1_ps(scale), bb = _mm512_set1_ps(bias);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes(n - i), valid = static_cast<__mmask16>(k & ~lanes(first - i));
    const __m512 z = _mm512_fmadd_ps(bs, _mm512_maskz_loadu_ps(valid, st + i), bb);
    const __m512 p = _mm512_maskz_mov_ps(valid, exp512(_mm512_sub_ps(z, _mm512_maskz_loadu_ps(valid, lse + i))));
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(valid, dpt + i), _mm512_maskz_loadu_ps(valid, delta + i));
    _mm512_mask_storeu_ps(st + i, k, p);
    _mm512_mask_storeu_ps(dpt + i, k, _mm512_mul_ps(p, d));
  }
}

// ---- AVX512-BF16: A and B rounded to bfloat16, pairs of products summed by vdpbf16ps ----------
#define MLXFT_AVX512BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// Packed pairs: A as [M][K2] pairs (k, k+1) of a row, B as [K2][N] pairs of rows (k, k+1) per column;
// K2 = ceil(K / 2), the odd tail paired with 0. A pair is one 32-bit lane: element k's bfloat16 bits
// low, k + 1's high (vdpbf16ps's order).
MLXFT_AVX512_TARGET inline __m512i bf16_pair(__m512 low, __m512 high) {
  return _mm512_or_si512(_mm512_srli_epi32(bf16_round_lanes(low), 16),
                         _mm512_and_si512(bf16_round_lanes(high), _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
}

// dst[r][k2] = (A[r][2 k2], A[r][2 k2 + 1]): 32 floats of a row at a time, split by lane parity.
MLXFT_AVX512_TARGET void pack_a_pairs(int64_t rows, int64_t K, const float* A, int64_t lda, uint32_t* dst) {
  const int64_t K2 = (K + 1) / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k2 = 0; k2 < K2; k2 += 16) {
      const float* src = A + r * lda + 2 * k2;
      const __m512 x0 = _mm512_maskz_loadu_ps(lanes(K - 2 * k2), src);
      const __m512 x1 = _mm512_maskz_loadu_ps(lanes(K - 2 * k2 - 16), src + 16);
      const __m512i pair = bf16_pair(_mm512_permutex2var_ps(x0, even, x1), _mm512_permutex2var_ps(x0, odd, x1));
      _mm512_mask_storeu_epi32(dst + r * K2 + k2, lanes(K2 - k2), pair);
    }
}

// dst[k2][n] = (B[2 k2][n], B[2 k2 + 1][n]), dst rows N apart.
MLXFT_AVX512_TARGET void pack_b_pairs(int64_t K, int64_t N, const float* B, int64_t ldb, uint32_t* dst) {
  for (int64_t k2 = 0; k2 < (K + 1) / 2; ++k2) {
    const float* r0 = B + 2 * k2 * ldb;
    const bool has_odd = 2 * k2 + 1 < K;
    for (int64_t n = 0; n < N; n += 16) {
      const __mmask16 m = lanes(N - n);
      const __m512 high = has_odd ? _mm512_maskz_loadu_ps(m, r0 + ldb + n) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(dst + k2 * N + n, m, bf16_pair(_mm512_maskz_loadu_ps(m, r0 + n), high));
    }
  }
}

template <int RM, int NV>
MLXFT_AVX512BF16_TARGET inline void tile_bf16(int64_t K2, const uint32_t* A, const uint32_t* B, int64_t ldb,
                                              float* C, int64_t ldc, bool accumulate, __mmask16 last) {
  __m512 c[RM][NV];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      c[r][v] = accumulate ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xffff, C + r * ldc + 16 * v)
                           : _mm512_setzero_ps();
  for (int64_t k = 0; k < K2; ++k) {
    __m512bh b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      b[v] = reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi32(v == NV - 1 ? last : 0xffff, B + k * ldb + 16 * v));
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(A[r * K2 + k])));
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_dpbf16_ps(c[r][v], a, b[v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(C + r * ldc + 16 * v, v == NV - 1 ? last : 0xffff, c[r][v]);
}

template <int NV>
MLXFT_AVX512BF16_TARGET void panel_bf16(int64_t M, int64_t K2, const uint32_t* A, const uint32_t* B, int64_t ldb,
                                        float* C, int64_t ldc, bool acc, __mmask16 last) {
  int64_t i = 0;
  for (; i + 6 <= M; i += 6) tile_bf16<6, NV>(K2, A + i * K2, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i + 4 <= M; i += 4) tile_bf16<4, NV>(K2, A + i * K2, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i + 2 <= M; i += 2) tile_bf16<2, NV>(K2, A + i * K2, B, ldb, C + i * ldc, ldc, acc, last);
  for (; i < M; ++i) tile_bf16<1, NV>(K2, A + i * K2, B, ldb, C + i * ldc, ldc, acc, last);
}

// C [M, N] (+)= A B from packed pairs: A [M][K2], B [K2][N], rows ldb apart.
MLXFT_AVX512BF16_TARGET void gemm_pairs(int64_t M, int64_t N, int64_t K2, const uint32_t* A,
                                        const uint32_t* B, int64_t ldb, float* C, int64_t ldc, bool acc) {
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    const int64_t w = std::min<int64_t>(64, N - n0);
    const __mmask16 last = lanes(w - 16 * ((w - 1) / 16));
    const uint32_t* b = B + n0;
    float* c = C + n0;
    switch ((w + 15) / 16) {
      case 1: panel_bf16<1>(M, K2, A, b, ldb, c, ldc, acc, last); break;
      case 2: panel_bf16<2>(M, K2, A, b, ldb, c, ldc, acc, last); break;
      case 3: panel_bf16<3>(M, K2, A, b, ldb, c, ldc, acc, last); break;
      default: panel_bf16<4>(M, K2, A, b, ldb, c, ldc, acc, last); break;
    }
  }
}

#endif

float element(const void* src, bool bf16, int64_t at) {
  return bf16 ? from_bf16_bits(static_cast<const uint16_t*>(src)[at]) : static_cast<const float*>(src)[at];
}

}  // namespace

void block_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc, bool accumulate) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return gemm_avx512(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
#endif
  gemm_portable(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void block_gemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                     float* C, int64_t ldc, bool accumulate) {
  const Packing p(true);
  std::vector<uint32_t> a(static_cast<size_t>(M * p.words(K))), b(static_cast<size_t>(p.words(K) * N));
  p.pack_b(K, N, B, ldb, b.data());
  p.gemm(M, N, K, p.pack_a(M, K, A, lda, a.data()), b.data(), N, C, ldc, accumulate);
}

Packing::Packing(bool bf16_products, bool allow_pairs) {
#if defined(__x86_64__)
  pairs_ = bf16_products && allow_pairs && cpu_features().avx512_bf16;
#else
  (void)allow_pairs;  // the bf16 pair products are AVX512-BF16 only
#endif
  round_ = bf16_products && !pairs_;
}

PackedA Packing::pack_a(int64_t M, int64_t K, const float* A, int64_t lda, uint32_t* scratch) const {
#if defined(__x86_64__)
  if (pairs_) {
    pack_a_pairs(M, K, A, lda, scratch);
    return {scratch, words(K)};
  }
#endif
  if (!round_) return {reinterpret_cast<const uint32_t*>(A), lda};
  copy_rows(M, K, A, lda, reinterpret_cast<float*>(scratch));
  return {scratch, K};
}

void Packing::pack_b(int64_t K, int64_t N, const float* B, int64_t ldb, uint32_t* dst) const {
#if defined(__x86_64__)
  if (pairs_) return pack_b_pairs(K, N, B, ldb, dst);
#endif
  copy_rows(K, N, B, ldb, reinterpret_cast<float*>(dst));
}

void Packing::gemm(int64_t M, int64_t N, int64_t K, PackedA A, const uint32_t* B, int64_t ldb, float* C,
                   int64_t ldc, bool accumulate) const {
#if defined(__x86_64__)
  if (pairs_) return gemm_pairs(M, N, words(K), A.p, B, ldb, C, ldc, accumulate);
#endif
  block_gemm(M, N, K, reinterpret_cast<const float*>(A.p), A.ld, reinterpret_cast<const float*>(B), ldb, C,
             ldc, accumulate);
}

void Packing::copy_rows(int64_t rows, int64_t cols, const float* src, int64_t ld, float* dst) const {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = src + r * ld;
    float* out = dst + r * cols;
    if (!round_) {
      std::memcpy(out, in, static_cast<size_t>(cols) * sizeof(float));
      continue;
    }
    for (int64_t c = 0; c < cols; ++c) out[c] = from_bf16_bits(to_bf16_bits(in[c]));
  }
}

void load_block(const void* src, bool bf16, int64_t rows, int64_t D, int64_t rows_padded, float* dst) {
  std::fill(dst + rows * D, dst + rows_padded * D, 0.0f);
#if defined(__x86_64__)
  if (cpu_features().avx512f) return load_block_avx512(src, bf16, rows, D, dst);
#endif
  if (!bf16) {
    std::memcpy(dst, src, static_cast<size_t>(rows * D) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < rows * D; ++i) dst[i] = element(src, true, i);
}

void load_block_t(const void* src, bool bf16, int64_t rows, int64_t D, int64_t cols_padded, float* dst) {
  for (int64_t d = 0; d < D; ++d) std::fill(dst + d * cols_padded + rows, dst + (d + 1) * cols_padded, 0.0f);
#if defined(__x86_64__)
  if (cpu_features().avx512f) return load_block_t_avx512(src, bf16, rows, D, cols_padded, dst);
#endif
  // Source rows in the outer loop: each is read once, in order; the writes go down D columns.
  for (int64_t r = 0; r < rows; ++r) {
    if (bf16) {
      const uint16_t* row = static_cast<const uint16_t*>(src) + r * D;
      for (int64_t d = 0; d < D; ++d) dst[d * cols_padded + r] = from_bf16_bits(row[d]);
    } else {
      const float* row = static_cast<const float*>(src) + r * D;
      for (int64_t d = 0; d < D; ++d) dst[d * cols_padded + r] = row[d];
    }
  }
}

void store_block(const float* src, int64_t rows, int64_t D, float mul, void* dst, bool bf16) {
#if defined(__x86_64__)
  if (cpu_features().avx512f) return store_block_avx512(src, rows, D, mul, dst, bf16);
#endif
  for (int64_t i = 0; i < rows * D; ++i) {
    if (bf16) {
      static_cast<uint16_t*>(dst)[i] = to_bf16_bits(mul * src[i]);
    } else {
      static_cast<float*>(dst)[i] = mul * src[i];
    }
  }
}

float online_softmax_row(float* s, int64_t nv, int64_t n, float scale, const float* bias, float& m, float& l) {
  if (nv <= 0) {
    std::fill(s, s + n, 0.0f);
    return 1.0f;
  }
#if defined(__x86_64__)
  if (cpu_features().avx512f) return online_row_avx512(s, nv, n, scale, bias, m, l);
#endif
  return online_row_portable(s, nv, n, scale, bias, m, l);
}

void backward_row(float* st, float* dpt, int64_t first, int64_t n, float scale, float bias, const float* lse,
                  const float* delta) {
  first = std::clamp<int64_t>(first, 0, n);
#if defined(__x86_64__)
  if (cpu_features().avx512f) return backward_row_avx512(st, dpt, first, n, scale, bias, lse, delta);
#endif
  backward_row_portable(st, dpt, first, n, scale, bias, lse, delta);
}

}  // namespace mlxft::kernels::attention
