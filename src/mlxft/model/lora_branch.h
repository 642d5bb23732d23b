// LoRA's low-rank branch added to the frozen output: y + scale (x A^T) B^T, with a gradient that frees
// its inputs as soon as it can.
//
// Contract: lora_add(y, x, a, b, scale) = y + scale * matmul(matmul(x, a^T), b^T), in y's dtype, for
// y [..., out], x [..., in], a [r, in], b [out, r] (x may be bfloat16 beside float32 adapters).
// Differentiable with respect to y, x, a and b (y's gradient is the cotangent itself).
// The scale multiplies the [..., r] intermediate, not the [..., out] result, and with float32 y the
// addition is the second matmul's accumulation (MLX's addmm, beta 1): no separate pass over
// [..., out] each way.
// The gradient of x is ordered after the gradients of a and b: MLX's scheduler would otherwise
// evaluate every layer's adapter gradients at the end of the backward pass (they are outputs of the
// whole step), and hold each layer's x and dz until then, which gradient checkpointing was meant to
// free.
// LoRA's branch primitive; callers go through adapted_linear() (adapted_linear.h).
#pragma once

#include <mlx/mlx.h>

namespace mlxft {

mlx::core::array lora_add(const mlx::core::array& y, const mlx::core::array& x, const mlx::core::array& a,
                          const mlx::core::array& b, float scale);

}  // namespace mlxft
