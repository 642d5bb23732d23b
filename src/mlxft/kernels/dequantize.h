// Multithreaded dequantization of MLX's affine quantized matrices (what mx::quantize writes).
//
// Contract: w packs rows x cols values of `bits` (4 or 8) bits into uint32 words, little end first
// ([rows, cols * bits / 32]); scales and biases are float32 [rows, cols / group], or bfloat16 (bits)
// when scales_bf16 / biases_bf16 are set instead (then scales / biases are unused). Element (r, c) is
//   scales[r, c / group] * q(r, c) + biases[r, c / group]
// written row-major into out[rows, cols] as float32, or as bfloat16 bits (round to nearest even).
// Rows [row_begin, row_end) only, so callers may dequantize tile by tile.
#pragma once

#include <cstdint>

namespace mlxft::kernels {

struct AffineQuantized {
  const uint32_t* w;
  const float* scales;
  const float* biases;
  int64_t rows;
  int64_t cols;
  int group;
  int bits;
  const uint16_t* scales_bf16 = nullptr;  // set (with biases_bf16): bfloat16 scales and biases
  const uint16_t* biases_bf16 = nullptr;
};

void dequantize_rows(const AffineQuantized& q, int64_t row_begin, int64_t row_end, float* out);
void dequantize_rows(const AffineQuantized& q, int64_t row_begin, int64_t row_end, uint16_t* out_bf16);
// All rows, split over kernel_threads().
void dequantize(const AffineQuantized& q, float* out);
void dequantize(const AffineQuantized& q, uint16_t* out_bf16);

}  // namespace mlxft::kernels
