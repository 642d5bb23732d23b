// Frozen projections y = x W^T as an MLX primitive running oneDNN on x86 CPUs.
//
// Contract: x [..., in] float32 or bfloat16, W [out, in] frozen (no gradient); y [..., out] has x's
// dtype. The matmul runs in the weight's compute dtype (float32, or bfloat16 with float32
// accumulation on AMX / AVX512-BF16); x is converted to it on the fly. The gradient with respect
// to x, dx = dy W [..., in], runs through the same primitive; W gets none.
// A FrozenLinearWeight is made once when the model is loaded and shared by every call: it holds W
// in the compute dtype (no copy when W already has it) and, with `pack`, a copy reordered once into
// oneDNN's preferred blocked layout. Packing is off by default: it costs another copy of W and did not
// pay consistently on the machines measured (docs/performance.md, bench/kernels_bench).
// Quantized weights (MLX affine: packed uint32 w, scales, biases, group 32/64/128, 4 or 8 bits) are
// either dequantized once at load (speed; 2 bytes a parameter in bf16, and with `pack` the packed copies a
// float W would have) or dequantized per call into
// a transient [out, in] buffer (memory; ~0.56 bytes a parameter at rest for 4-bit, group 64). Float32
// and bfloat16 scales/biases are read as stored (no copy); float16 ones are copied to float32 once.
// Where cpu_kernels_run_on() is false (switches.h: GPU, no oneDNN, MLXFT_KERNELS=0), or for a weight
// without oneDNN, frozen_linear() is plain MLX ops (matmul or
// quantized_matmul) with the same result (bf16 outputs rounded as MLX rounds them) and MLX's own
// gradient.
// Use: a model makes one FrozenLinearWeight per frozen projection at load (compute dtype from
// model.compute_dtype; bf16_matmul_is_fast() for `auto`) and calls frozen_linear(x, w) where it
// called mx::matmul(x, mx::transpose(W)); LoRA's own small matmuls stay in MLX.
#pragma once

#include <mlx/mlx.h>

#include <memory>

namespace mlxft::kernels {

namespace mx = mlx::core;

struct FrozenLinearOptions {
  mx::Dtype compute_dtype = mx::float32;  // float32 or bfloat16
  bool pack = false;                      // keep W reordered once into oneDNN's blocked layout (forward)
  bool pack_backward = false;             // also pack W for dx = dy W (another copy); else plain W
};

enum class QuantizedMode { DequantizeOnce, DequantizePerCall };

class FrozenLinearWeight {
 public:
  struct Impl;
  explicit FrozenLinearWeight(std::unique_ptr<Impl> impl);
  ~FrozenLinearWeight();

  int out_features() const;
  int in_features() const;
  mx::Dtype compute_dtype() const;
  // Holds the quantized form (dequantized per call), which the few-row kernel (quantized_rows.h) reads;
  // false for a float weight and for a quantized one dequantized once (it holds W alone).
  bool quantized() const;
  bool uses_dnnl() const;         // false: frozen_linear() runs MLX ops
  size_t resident_bytes() const;  // W as held here plus packed copies (what the weight costs at rest)
  // y = x W^T with MLX ops only (the fallback, and the tests' reference)
  mx::array reference(const mx::array& x, mx::StreamOrDevice s = {}) const;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

using FrozenLinearWeightPtr = std::shared_ptr<const FrozenLinearWeight>;

// W [out, in] float32 / bfloat16 / float16. Evaluates what it needs (the pack runs here, once).
FrozenLinearWeightPtr make_frozen_linear_weight(const mx::array& w, const FrozenLinearOptions& options = {});
// MLX affine quantized triplet as mx::quantize returns it.
FrozenLinearWeightPtr make_frozen_linear_weight(const mx::array& wq, const mx::array& scales,
                                                const mx::array& biases, int group_size, int bits,
                                                const FrozenLinearOptions& options = {},
                                                QuantizedMode mode = QuantizedMode::DequantizeOnce);

mx::array frozen_linear(const mx::array& x, const FrozenLinearWeightPtr& w, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
