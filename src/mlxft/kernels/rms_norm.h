// RMSNorm as a CPU kernel.
//
// Contract: x [..., E], w [E]; y = x r w with r = 1 / sqrt(mean_E(x^2) + eps) per row, in x's dtype.
// Gradients: dx = r (w dy) - x r^3 mean_E(w dy x); dw = sum over rows of dy x r. On a CPU stream with
// x and w each float32 or bfloat16, the forward and the x-gradient are each one multithreaded pass over
// the rows (16 partial sums a row), computed in float32 (w as float32), rounded once to x's dtype,
// where MLX's CPU fast::rms_norm is a chain of single-threaded ops. The w-gradient (norms are frozen
// under LoRA) is MLX ops in float32. Where cpu_kernels_run_on() is false (switches.h: GPU,
// MLXFT_KERNELS=0) and for other dtypes: MLX's fast::rms_norm.
#pragma once

#include <mlx/mlx.h>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array rms_norm(const mx::array& x, const mx::array& w, float eps, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
