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

#include "mlxft/kernels/frozen_linear.h"

namespace mlxft::kernels {

namespace mx = mlx::core;

bool quantized_rows_supported(const mx::array& x, int group_size, int bits, mx::StreamOrDevice s = {});
mx::array quantized_rows_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                                const mx::array& biases, int group_size, int bits, mx::StreamOrDevice s = {});
// The same with a prepared quantized kernel weight, whose float32 scales and biases are made once
// (not cast again on every decode step).
mx::array quantized_rows_matmul(const mx::array& x, const FrozenLinearWeight& w, mx::StreamOrDevice s = {});

mx::array quantized_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                           const mx::array& biases, int group_size, int bits,
                           const FrozenLinearWeight* prepared = nullptr, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
