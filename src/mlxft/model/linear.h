// The linear-kernel seam: every frozen (base-model) projection y = x W^T goes through here.
//
// Contract:
// - FrozenWeight is a projection's base weight as the model holds it: today a float array
//   W [out, in] (HF layout); next, MLX's quantized triplet (packed weight, scales, biases with
//   bits and group_size). `prepared`, when set, is the same float W made once into a CPU kernel
//   weight (kernels/frozen_linear.h: oneDNN, in its compute dtype); the float path then runs
//   kernels::frozen_linear instead of MLX's matmul.
// - frozen_linear(x, w) = x W^T for x [..., in] -> [..., out], in x's dtype. It is
//   differentiable with respect to x (LoRA gradients flow through it); W is a constant.
// - A quantized FrozenWeight goes through quantized_linear(): on a GPU, and for x of at most 8 rows
//   (decoding, where dequantizing the whole layer costs more than a per-row product),
//   kernels::quantized_matmul (the CPU rows kernel or MLX's quantized_matmul); otherwise, on the CPU
//   (where MLX's quantized_matmul is much slower than BLAS), the layer is dequantized into x's dtype just
//   before use and multiplied with matmul (memory of the quantized model, speed of a float one), through
//   the prepared kernel weight when there is one. Scales and biases are cast to x's dtype first, so a
//   float32 run dequantizes exactly as dequantize_module(.., float32) does. Both are differentiable with
//   respect to x.
// - frozen_float_weight(w): W as float32 [out, in] (what an adapter kind that reads W, DoRA's norm,
//   needs), dequantized when quantized; a constant, like W.
// - KernelWeightCache: the prepared kernel weights of one model, built lazily on first use and
//   keyed by weight name and array identity (a replaced array gets a fresh entry). Thread-safe.
//   get_quantized() is null for bit widths the kernel does not take (3, 5, 6): MLX's ops run them.
// - resolve_compute_dtype("auto" | "float32" | "bfloat16"): model.compute_dtype as a dtype; auto is
//   bfloat16 on a GPU and on a CPU where bf16_matmul_is_fast() (util/cpu_features.h), else
//   float32. Anything else is a Config error.
#pragma once

#include <mlx/mlx.h>

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "mlxft/kernels/frozen_linear.h"

namespace mlxft {

struct FrozenWeight {
  explicit FrozenWeight(mlx::core::array w) : weight(std::move(w)) {}

  mlx::core::array weight;                 // [out, in], or the packed quantized weight
  std::optional<mlx::core::array> scales;  // quantized only: [out, in / group_size]
  std::optional<mlx::core::array> biases;  // quantized only: [out, in / group_size]
  int bits = 0;                            // 0: not quantized
  int group_size = 0;
  kernels::FrozenLinearWeightPtr prepared;  // W as a CPU kernel weight; null: MLX ops

  bool quantized() const { return bits > 0; }
};

mlx::core::array frozen_linear(const mlx::core::array& x, const FrozenWeight& w);
// W itself as float32 [out, in]: a quantized weight dequantized as dequantize_module(.., float32) does.
mlx::core::array frozen_float_weight(const FrozenWeight& w);
mlx::core::array quantized_linear(const mlx::core::array& x, const FrozenWeight& w);

mlx::core::Dtype resolve_compute_dtype(const std::string& name);

class KernelWeightCache {
 public:
  // The kernel weight of float W [out, in] named `name`, made on first use in `compute_dtype`.
  // pack: W also kept in oneDNN's blocked layouts for x W^T and dy W (two more copies; the LM head).
  kernels::FrozenLinearWeightPtr get(const std::string& name, const mlx::core::array& w,
                                     mlx::core::Dtype compute_dtype, bool pack = false);
  // The kernel weight of quantized W (its packed weight, scales and biases), dequantized per call
  // into a transient buffer: the weight stays 4/8-bit at rest, as QLoRA promises. pack (the run's
  // model.pack_weights where memory allows it): dequantized once instead and kept as a float W with
  // `pack` is (2 + 2 x 2 bytes a parameter in bfloat16 beside the quantized form, which stays).
  kernels::FrozenLinearWeightPtr get_quantized(const std::string& name, const FrozenWeight& w,
                                               mlx::core::Dtype compute_dtype, bool pack = false);

 private:
  struct Entry {
    std::uintptr_t id = 0;
    kernels::FrozenLinearWeightPtr weight;
    bool pack = false;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace mlxft
