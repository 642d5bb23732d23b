// RMSNorm as a CPU kernel.
//
// Contract: x [..., E], w [E]; y = x r w with r = 1 / sqrt(mean_E(x^2) + eps) per row, in x's dtype.
// Gradients: dx = r (w dy) - x r^3 mean_E(w dy x); dw = sum over rows of dy x r. On a CPU stream with
// x and w each float32 or bfloat16, the forward and the x-gradient are each one multithreaded pass over
// the rows (16 partial sums a row), computed in float32 (w as float32), rounded once to x's dtype;
// MLX's CPU fast::rms_norm is a chain of single-threaded ops (3 ms forward, 4 more backward for
// 2 x 1024 rows of 768). The w-gradient (norms are frozen under LoRA) is MLX ops in float32.
// Elsewhere (GPU, other dtypes): MLX's fast::rms_norm.
#pragma once

#include <mlx/mlx.h>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array rms_norm(const mx::array& x, const mx::array& w, float eps, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
