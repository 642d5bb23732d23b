// SwiGLU's gate, silu(g) * u, with its gradient, as a CPU kernel.
//
// Contract: g and u of one shape; returns silu(g) u = g sigmoid(g) u in their dtype. Gradients:
// dg = dy u s (1 + g (1 - s)), du = dy g s, with s = sigmoid(g). On a CPU stream with float32 or
// bfloat16 inputs (both of one dtype) the forward and the backward are each one multithreaded pass
// (AVX-512 exp where the CPU has it), computed in float32, bfloat16 results rounded to nearest even,
// where MLX's CPU sigmoid is scalar and single-threaded. Where cpu_kernels_run_on() is false
// (switches.h: GPU, MLXFT_KERNELS=0) and for other dtypes it is MLX ops: swiglu_reference().
#pragma once

#include <mlx/mlx.h>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array swiglu(const mx::array& g, const mx::array& u, mx::StreamOrDevice s = {});
mx::array swiglu_reference(const mx::array& g, const mx::array& u, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
