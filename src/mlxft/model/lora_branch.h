// LoRA's low-rank branch z = (x A^T) B^T with a gradient that frees its inputs as soon as it can.
//
// Contract: lora_branch(x, a, b) = matmul(matmul(x, a^T), b^T) for x [..., in], a [r, in], b [out, r]
// (x may be bfloat16 beside float32 adapters: the result is promoted as MLX's matmul promotes it).
// Differentiable with respect to all three. The gradient of x is ordered after the gradients of a and b:
// MLX's scheduler would otherwise evaluate every layer's adapter gradients at the end of the backward
// pass (they are outputs of the whole step), and hold each layer's x and dz until then: measured one
// to three hidden vectors a layer, which gradient checkpointing was meant to free.
#pragma once

#include <mlx/mlx.h>

namespace mlxft {

mlx::core::array lora_branch(const mlx::core::array& x, const mlx::core::array& a, const mlx::core::array& b);

}  // namespace mlxft
