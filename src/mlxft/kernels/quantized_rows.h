// A few rows times an affine-quantized matrix, without dequantizing it: the decode-time product.
//
// Contract: x [..., K] float32 with at most a few rows (generation feeds 1), w the MLX affine
// quantized triplet of W [N, K] (packed uint32 [N, K bits / 32], scales and biases [N, K / group];
// bits 4 or 8, group a multiple of 32). Returns y = x W^T [..., N] float32, computed as
//   y[m, n] = sum_g scales[n, g] sum_{k in g} q(n, k) x[m, k] + biases[n, g] sum_{k in g} x[m, k]
// with W's 4/8-bit codes unpacked in registers (AVX-512 where the CPU has it; portable loops else),
// the N outputs split over kernel_threads(). Each step reads W once at its packed size, where
// MLX's CPU quantized_matmul is scalar and single-threaded.
// The gradient with respect to x is MLX's quantized_matmul (dy W); W gets none.
// Where quantized_rows_supported() is false, quantized_rows_matmul() is MLX's quantized_matmul.
// quantized_rows_supported(): x has at most 8 rows, bits 4 or 8, group a multiple of 32, x float32 or
// bfloat16, on a stream where cpu_kernels_run_on() (switches.h).
// quantized_matmul() is the op that picks: quantized_rows_matmul() where quantized_rows_supported()
// (through `prepared`'s float32 scales when it is a quantized kernel weight), else MLX's quantized_matmul
// with the scales and biases cast to x's dtype (any stream, any number of rows).
#pragma once

#include <mlx/mlx.h>

#include <vector>

#include "mlxft/kernels/frozen_linear.h"

namespace mlxft::kernels {

namespace mx = mlx::core;

bool quantized_rows_supported(const mx::array& x, int group_size, int bits, mx::StreamOrDevice s = {});
mx::array quantized_rows_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                                const mx::array& biases, int group_size, int bits, mx::StreamOrDevice s = {});
// The same with a prepared quantized kernel weight, whose float32 scales and biases are made once
// (not cast again on every decode step).
mx::array quantized_rows_matmul(const mx::array& x, const FrozenLinearWeight& w, mx::StreamOrDevice s = {});

// The raw kernel for callers that hold plain buffers (model/decode_step.h): y[m, n] for rows m < `rows` of
// x [rows, K] and outputs n0 <= n < n1, on the calling thread; xsum [rows, K / group] holds each group's
// sum of x. w, scales and biases as above (float32 scales and biases, row-major).
struct QuantizedRows {
  const uint32_t* w;
  const float* scales;
  const float* biases;
  int64_t N, K;
  int group, bits;
};
void quantized_rows_range(const QuantizedRows& w, const float* x, const float* xsum, int64_t rows, float* y,
                          int64_t n0, int64_t n1);
// Row n of W dequantized into out [K] (scale * code + bias, as mx::dequantize computes it).
void quantized_rows_dequantize_row(const QuantizedRows& w, int64_t n, float* out);
// The view of a quantized kernel weight (bits 4 or 8) with its float32 scales and biases; `keep` gets the
// evaluated arrays the view points into. std::invalid_argument for a float weight or other widths.
QuantizedRows quantized_rows_view(const FrozenLinearWeight& w, std::vector<mx::array>& keep);

mx::array quantized_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                           const mx::array& biases, int group_size, int bits,
                           const FrozenLinearWeight* prepared = nullptr, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
