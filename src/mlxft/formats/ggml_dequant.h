// ggml's tensor blocks decoded by mlxft itself (not MLX's GGUF reader): exact float values, and the
// per-32 affine form of the types that have one.
//
// Contract: ggml_dequantize() decodes the bytes of `out.size()` elements of `type` (F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; ggml_decodable() says which) into
// float32, computing each value as ggml's dequantize_row_* does (ggml-quants.c; the same values as
// gguf-py's quants.py, tests/formats/ggml_dequant_test.cpp checks them bit for bit against its
// golden): block layouts as in ggml-common.h, the 256-element k-quant super-blocks with their 6-bit
// packed scales and mins (Q4_K, Q5_K), 4-bit scale/min pairs (Q2_K), 6-bit signed scales (Q3_K) and
// int8 scales (Q6_K) per sub-block, float16 super-block scales widened exactly. Every product ggml
// forms before its one addition is exact in float32 (at most 24 significant bits), so the values do
// not depend on FMA contraction.
// ggml_affine() writes the same values as MLX's affine form, one scale and bias per 32 consecutive
// elements, value = scale * q + bias with q in [0, 2^bits): bits 4 for Q4_0 (scale d, bias -8d),
// Q4_1 (d, m) and Q4_K (d * sc, -(dmin * m) of the sub-block), 5 for Q5_0 (d, -16d), Q5_1 (d, m) and
// Q5_K (as Q4_K), 8 for Q8_0 (q = x + 128, scale d, bias -128d); ggml_affine_bits() says which types
// have one (0 for the others: Q2_K/Q3_K/Q6_K have 16-element sub-blocks, MLX's groups are 32 or
// more). Scales and biases are float32 and exact, so scale * q + bias rounds to ggml's value: equal
// as numbers (ggml gives -0 where the affine sum gives +0; a non-finite float16 d gives NaN or inf
// either way, but not always the same one). The data size must be what the element count needs
// (elements a multiple of the type's block) and the output spans must fit: a Model error naming
// `where` otherwise. Pure byte work, no MLX.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace mlxft {

bool ggml_decodable(uint32_t type);
int ggml_affine_bits(uint32_t type);

// IEEE half -> float, exact (subnormals, infinities and NaN payloads kept).
float f16_to_float(uint16_t bits);

void ggml_dequantize(uint32_t type, std::span<const uint8_t> data, std::span<float> out,
                     const std::string& where);

// q: one value per element (out of the 32-element groups of `data`), scales/biases: one per group.
void ggml_affine(uint32_t type, std::span<const uint8_t> data, std::span<uint8_t> q, std::span<float> scales,
                 std::span<float> biases, const std::string& where);

}  // namespace mlxft
