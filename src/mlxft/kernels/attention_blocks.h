// The block-level math of the fused causal attention (kernels/causal_attention.h); internal to kernels/.
//
// Contract (all float32, row-major, leading dimensions in elements):
//   block_gemm:   C[M, N] = A[M, K] B[K, N]  (accumulate: C += A B)
//   block_gemm_bf16: the same product with A and B rounded to bfloat16 (nearest even) and the products
//                 summed in float32 (vdpbf16ps, two products a step, on AVX512-BF16; elsewhere the rounded
//                 operands through block_gemm's loops). One-shot: packs both operands through Packing
//                 (the attention itself packs each operand once for many products).
//   Packing:      operands packed once for many products. pack_a(M, K, A, lda, scratch) packs A [M, K]
//                 as [M][words(K)] into scratch (float32 products: returns A itself), pack_b(K, N, B) writes
//                 B [K, N] as [words(K)][N] (rows N apart; a product may use a column range of it with ldb =
//                 N), b_from(B, k0, ldb) points at B's packed rows from element row k0 (k0 even), gemm(M, N,
//                 K, A, B, ldb, C) is C (+)= A B. bfloat16 products on AVX512-BF16: bfloat16 pairs along k
//                 (words(K) = ceil(K / 2), the odd tail paired with 0), vdpbf16ps; elsewhere float32 words
//                 (bfloat16 products: the values rounded to bfloat16) and block_gemm. Same results as
//                 block_gemm(_bf16).
//   load_block:   dst[r, 0..D) = src[r, 0..D) as float32 for r < rows, 0 for rows <= r < rows_padded
//                 (src float32 or bfloat16 bits, rows D apart)
//   load_block_t: the transpose: dst[d, r] (dst rows cols_padded apart), zero for rows <= r < cols_padded
//   store_block:  dst[r, d] = mul * src[r, d] as float32 or bfloat16 (round to nearest even)
//   online_softmax_row: one query row of FlashAttention's forward. s[0..n) holds the raw scores q.k
//                 of one key block; z = scale s + bias (bias may be null), only z[0..nv) is visible.
//                 With m_new = max(m, max z), it writes s[v] = exp(z[v] - m_new) (0 for v >= nv), sets
//                 l = l exp(m - m_new) + sum s, m = m_new and returns exp(m - m_new) (the factor that
//                 rescales the row's output). nv <= 0: s = 0, returns 1.
//   backward_row: one key row of the backward. For queries i in [first, n): st[i] (the score k.q_i) becomes
//                 p = exp(scale st[i] + bias - lse[i]) and dpt[i] (dO_i.v) becomes p (dpt[i] - delta[i]);
//                 both are 0 for i < first.
// Runtime dispatch: AVX-512 where the CPU has it (16 lanes, polynomial exp), portable loops elsewhere.
#pragma once

#include <cstdint>

namespace mlxft::kernels::attention {

void block_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc, bool accumulate);

void block_gemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                     float* C, int64_t ldc, bool accumulate);

// A packed A operand: rows ld words apart (a view of the float32 source itself for float32 products).
struct PackedA {
  const uint32_t* p;
  int64_t ld;
};

class Packing {
 public:
  // allow_pairs = false: the portable layout on any CPU (tests).
  explicit Packing(bool bf16_products, bool allow_pairs = true);
  int64_t words(int64_t K) const { return pairs_ ? (K + 1) / 2 : K; }
  PackedA pack_a(int64_t M, int64_t K, const float* A, int64_t lda, uint32_t* scratch) const;
  void pack_b(int64_t K, int64_t N, const float* B, int64_t ldb, uint32_t* dst) const;
  const uint32_t* b_from(const uint32_t* B, int64_t k0, int64_t ldb) const { return B + words(k0) * ldb; }
  void gemm(int64_t M, int64_t N, int64_t K, PackedA A, const uint32_t* B, int64_t ldb, float* C, int64_t ldc,
            bool accumulate) const;

 private:
  // src [rows, cols] (rows ld apart) as dense float32 words, rounded to bfloat16 values when round_.
  void copy_rows(int64_t rows, int64_t cols, const float* src, int64_t ld, float* dst) const;
  bool pairs_ = false;  // AVX512-BF16 pairs
  bool round_ = false;  // bfloat16 products elsewhere: float32 words holding bfloat16 values
};

void load_block(const void* src, bool bf16, int64_t rows, int64_t D, int64_t rows_padded, float* dst);
void load_block_t(const void* src, bool bf16, int64_t rows, int64_t D, int64_t cols_padded, float* dst);
void store_block(const float* src, int64_t rows, int64_t D, float mul, void* dst, bool bf16);

float online_softmax_row(float* s, int64_t nv, int64_t n, float scale, const float* bias, float& m, float& l);
void backward_row(float* st, float* dpt, int64_t first, int64_t n, float scale, float bias, const float* lse,
                  const float* delta);

}  // namespace mlxft::kernels::attention
