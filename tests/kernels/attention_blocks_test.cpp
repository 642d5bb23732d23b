// The attention's block products: block_gemm_bf16 is the float32 product of the bfloat16-rounded operands;
// Packing's operands packed once serve sub-products (a column range and later k rows of B) in every layout;
// load_block_t is the transpose, zero-padded, of float32 and bfloat16 rows.
#include "mlxft/kernels/attention_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "mlxft/kernels/row_math.h"

namespace mlxft::kernels::attention {
namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> m(static_cast<size_t>(rows * cols));
  for (float& x : m) x = dist(gen);
  return m;
}

float bf16(float x) {
  return from_bf16_bits(to_bf16_bits(x));
}

// C (+)= A B with A [M, K] (leading dimension lda >= K) and B [K, N] (ldb >= N) against float64 sums
// of the rounded operands; the error bound is relative to sum |a| |b| of each entry.
void expect_bf16_product(int64_t M, int64_t N, int64_t K, bool accumulate) {
  SCOPED_TRACE(testing::Message() << M << "x" << N << "x" << K << (accumulate ? " +=" : ""));
  const int64_t lda = K + 3, ldb = N + 5, ldc = N + 2;
  const std::vector<float> A = random_matrix(M, lda, 1), B = random_matrix(K, ldb, 2);
  std::vector<float> C = random_matrix(M, ldc, 3);
  const std::vector<float> C0 = C;
  block_gemm_bf16(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, accumulate);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double want = accumulate ? C0[i * ldc + j] : 0.0, bound = std::abs(want);
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(bf16(A[i * lda + k])) * bf16(B[k * ldb + j]);
        want += p;
        bound += std::abs(p);
      }
      ASSERT_NEAR(C[i * ldc + j], want, 1e-5 * bound + 1e-30) << "C[" << i << ", " << j << "]";
    }
  for (int64_t i = 0; i < M; ++i)  // the padding between rows is untouched
    for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]);
}

TEST(AttentionBlocks, Bfloat16ProductIsTheProductOfRoundedOperands) {
  expect_bf16_product(64, 64, 64, false);  // one full block
  expect_bf16_product(7, 37, 13, false);   // odd K: the last pair has one product
  expect_bf16_product(13, 130, 64, true);  // N past two 64-column panels, accumulating
  expect_bf16_product(1, 1, 1, true);      // one entry
}

// Rounding is to nearest even, not truncation: 1 + 2^-8 + 2^-9 rounds up to 1 + 2^-7 in bfloat16.
TEST(AttentionBlocks, Bfloat16ProductRoundsToNearest) {
  const float a = 1.0f + 0x1.0p-8f + 0x1.0p-9f, b = 1.0f;
  float c = 0.0f;
  block_gemm_bf16(1, 1, 1, &a, 1, &b, 1, &c, 1, false);
  EXPECT_EQ(c, 1.0f + 0x1.0p-7f);
}

// B [20, 70] packed once; the product of A' [3, K'] with B's rows k0.. and columns n0.. (as the attention
// uses its packed heads) against float64 sums, in bfloat16 pairs (AVX512-BF16 here), the portable rounded
// layout and float32. Odd K' (9): the last pair has one product.
TEST(AttentionBlocks, PackedOperandsServeSubProducts) {
  const int64_t K = 20, N = 70, k0 = 6, n0 = 5, Kp = 9, Np = 33, M = 3;
  const std::vector<float> A = random_matrix(M, Kp, 4), B = random_matrix(K, N, 5);
  for (const auto& [bf16_products, pairs] :
       {std::pair{true, true}, std::pair{true, false}, std::pair{false, true}}) {
    SCOPED_TRACE(testing::Message() << (bf16_products ? "bf16" : "f32") << (pairs ? "" : " portable"));
    const Packing pk(bf16_products, pairs);
    const auto value = [&](float x) { return bf16_products ? bf16(x) : x; };
    std::vector<uint32_t> bp(static_cast<size_t>(pk.words(K) * N)), ap(static_cast<size_t>(M * Kp));
    pk.pack_b(K, N, B.data(), N, bp.data());
    std::vector<float> C(static_cast<size_t>(M * Np), 7.0f);
    pk.gemm(M, Np, Kp, pk.pack_a(M, Kp, A.data(), Kp, ap.data()), pk.b_from(bp.data(), k0, N) + n0, N,
            C.data(), Np, false);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < Np; ++j) {
        double want = 0.0, bound = 0.0;
        for (int64_t k = 0; k < Kp; ++k) {
          const double p = static_cast<double>(value(A[i * Kp + k])) * value(B[(k0 + k) * N + n0 + j]);
          want += p;
          bound += std::abs(p);
        }
        ASSERT_NEAR(C[i * Np + j], want, 1e-5 * bound + 1e-30) << "C[" << i << ", " << j << "]";
      }
  }
}

// dst[d, r] = src[r, d] for r < rows, 0 up to cols_padded: ragged row counts around the 16-row groups.
TEST(AttentionBlocks, LoadBlockTransposesAndPads) {
  for (const auto& [rows, D, padded] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                        {5, 3, 16},
                                        {16, 64, 16},
                                        {37, 20, 48},
                                        {64, 128, 64}}) {
    SCOPED_TRACE(testing::Message() << rows << "x" << D << " -> " << padded);
    const std::vector<float> src = random_matrix(rows, D, 7);
    std::vector<uint16_t> src_bf16(src.size());
    for (size_t i = 0; i < src.size(); ++i) src_bf16[i] = to_bf16_bits(src[i]);
    std::vector<float> f32(static_cast<size_t>(D * padded), -1.0f), b16(f32);
    load_block_t(src.data(), false, rows, D, padded, f32.data());
    load_block_t(src_bf16.data(), true, rows, D, padded, b16.data());
    for (int64_t d = 0; d < D; ++d)
      for (int64_t r = 0; r < padded; ++r) {
        const float want = r < rows ? src[r * D + d] : 0.0f;
        ASSERT_EQ(f32[d * padded + r], want) << d << "," << r;
        ASSERT_EQ(b16[d * padded + r], bf16(want)) << d << "," << r;
      }
  }
}

}  // namespace
}  // namespace mlxft::kernels::attention
