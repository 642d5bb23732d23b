// The linear-kernel seam: every frozen (base-model) projection y = x W^T goes through here.
//
// Contract:
// - FrozenWeight is a projection's base weight as the model holds it: today a float array
//   W [out, in] (HF layout); next, MLX's quantized triplet (packed weight, scales, biases with
//   bits and group_size), and CPU kernels that take over the product for some dtypes.
// - frozen_linear(x, w) = x W^T for x [..., in] -> [..., out], in x's dtype. It is
//   differentiable with respect to x (LoRA gradients flow through it); W is a constant.
// - A quantized FrozenWeight goes through quantized_linear(): on a GPU MLX's quantized_matmul;
//   on the CPU (where MLX's quantized_matmul is ~30-100x slower than BLAS) the layer is
//   dequantized into x's dtype just before use and multiplied with matmul (memory of the
//   quantized model, speed of a float one), except for x of at most 8 rows (decoding), where
//   dequantizing the whole layer costs more than quantized_matmul's per-row product. Scales and biases are
//   cast to x's dtype first, so a float32 run dequantizes exactly as dequantize_module(.., float32) does.
//   Both are differentiable with respect to x.
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <utility>

namespace mlxft {

struct FrozenWeight {
  explicit FrozenWeight(mlx::core::array w) : weight(std::move(w)) {}

  mlx::core::array weight;                 // [out, in], or the packed quantized weight
  std::optional<mlx::core::array> scales;  // quantized only: [out, in / group_size]
  std::optional<mlx::core::array> biases;  // quantized only: [out, in / group_size]
  int bits = 0;                            // 0: not quantized
  int group_size = 0;

  bool quantized() const { return bits > 0; }
};

mlx::core::array frozen_linear(const mlx::core::array& x, const FrozenWeight& w);
mlx::core::array quantized_linear(const mlx::core::array& x, const FrozenWeight& w);

}  // namespace mlxft
