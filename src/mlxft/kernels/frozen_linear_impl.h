// Internal: what a FrozenLinearWeight holds (see frozen_linear.h), shared by its construction
// (frozen_linear_weight.cpp) and the primitive (frozen_linear.cpp).
#pragma once

#include <mutex>
#include <optional>
#include <vector>

#include "mlxft/kernels/frozen_linear.h"
#include "mlxft/kernels/onednn.h"

namespace mlxft::kernels {

// Bytes from MLX's allocator (so mx::get_active_memory / get_peak_memory count them).
inline mx::array scratch(size_t bytes) {
  return mx::array(mx::allocator::malloc(bytes), {static_cast<int>(bytes)}, mx::uint8);
}

#ifdef MLXFT_HAVE_DNNL
struct PackedMatrix {
  mx::array data;  // uint8 bytes
  dnnl::memory::desc md;
};

inline onednn::dt dnnl_type(mx::Dtype d) {
  return d == mx::bfloat16 ? onednn::dt::bf16 : onednn::dt::f32;
}
#endif

struct FrozenLinearWeight::Impl {
  int out = 0;
  int in = 0;
  mx::Dtype compute = mx::float32;
  FrozenLinearOptions options;
  bool dnnl = false;
  // W [out, in] in the compute dtype: dense weights, and quantized ones dequantized once.
  std::optional<mx::array> dense;
  // Quantized weights: MLX's triplet (for the MLX fallback) and float32 scales/biases (the kernel's).
  bool quantized = false;
  std::optional<mx::array> wq, scales, biases, scales_f32, biases_f32;
  int group = 0;
  int bits = 0;
#ifdef MLXFT_HAVE_DNNL
  std::optional<PackedMatrix> forward;           // B = W^T [in, out], packed at load
  mutable std::optional<PackedMatrix> backward;  // B = W [out, in], packed on first use
  mutable std::mutex backward_mutex;
#endif

  bool per_call() const {
    return quantized && !dense;
  }
  // The arrays the primitive takes after x (keeps them alive and orders their evaluation).
  std::vector<mx::array> arrays() const;
};

#ifdef MLXFT_HAVE_DNNL
// The B operand of a matmul with W: W^T [in, out] (forward) or W [out, in] (transposed, dx = dy W):
// packed when packed, plain W otherwise; quantized per-call weights dequantized here. `keep` owns
// any transient buffer.
struct Operand {
  dnnl::memory::desc md;
  const void* ptr;
  std::vector<mx::array> keep;
};
Operand weight_operand(const FrozenLinearWeight::Impl& w, bool transposed);
#endif

}  // namespace mlxft::kernels
