// Float tensors in ggml's storage layouts, for the GGUF exports.
//
// Contract: ggml_encode() turns a float array (any float dtype, any shape; rows are its last axis)
// into the bytes ggml stores for `type`: F32 and F16 little-endian; Q8_0 blocks of 32 {f16 d; i8 q[32]}
// with d = max|x| / 127 and q = round(x / d); Q4_0 blocks of 32 {f16 d; u8 qs[16]} with d = m / -8 (m
// the element of largest magnitude, sign kept), q = min(15, trunc(x / d + 8.5)), element j in the low
// nibble of qs[j] and element j + 16 in the high one: the reference quantizers of ggml-quants.c,
// which llama.cpp's dequantizers invert. The row length must be a multiple of 32 for Q8_0/Q4_0 (a
// Model error naming `name` otherwise). Other types are a Model error.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mlxft/formats/gguf_file.h"

namespace mlxft {

std::vector<uint8_t> ggml_encode(const mlx::core::array& x, GgmlType type, const std::string& name);

}  // namespace mlxft
