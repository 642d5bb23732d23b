// Internal: what a FrozenLinearWeight holds (see frozen_linear.h), shared by its construction
// (frozen_linear_weight.cpp) and the primitive (frozen_linear.cpp).
#pragma once

#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "mlxft/kernels/dequantize.h"
#include "mlxft/kernels/frozen_linear.h"
#include "mlxft/kernels/huge_pages.h"
#include "mlxft/kernels/onednn.h"

namespace mlxft::kernels {

// Bytes from MLX's allocator (so mx::get_active_memory / get_peak_memory count them), aligned to
// 64 bytes (MLX's CPU buffers are only 8-byte aligned; AMX and AVX-512 loads want cache lines).
struct Buffer {
  mx::array owner;
  uint8_t* ptr;
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(ptr);
  }
};
inline Buffer scratch(size_t bytes) {
  constexpr size_t kPage = 4096;
  const int pages = static_cast<int>((bytes + 64 + kPage - 1) / kPage);
  mx::array a(mx::allocator::malloc(static_cast<size_t>(pages) * kPage), {pages, static_cast<int>(kPage)},
              mx::uint8);
  advise_huge_pages(a.data<uint8_t>(), static_cast<size_t>(pages) * kPage);
  const auto p = reinterpret_cast<uintptr_t>(a.data<uint8_t>());
  return {a, reinterpret_cast<uint8_t*>((p + 63) & ~uintptr_t{63})};
}

#ifdef MLXFT_HAVE_DNNL
struct PackedMatrix {
  Buffer data;
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
  // Quantized weights: MLX's triplet (for the MLX fallback) and the scales/biases the dequantizing kernel
  // reads: the stored arrays themselves when float32 or bfloat16 (no copy), else float32 copies. The
  // few-row product (quantized_rows) takes float32 ones, made on its first use (rows_scales()), so a
  // run that never decodes does not hold a float32 copy of bfloat16 scales and biases.
  bool quantized = false;
  std::optional<mx::array> wq, scales, biases, kernel_scales, kernel_biases;
  mutable std::optional<mx::array> scales_f32, biases_f32;
  mutable std::mutex rows_mutex;
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
  // Quantized: float32 scales and biases (evaluated; the kernel's own when float32), made once.
  std::pair<mx::array, mx::array> rows_scales() const;
};

// The dequantizing kernel's view of a quantized weight (its packed w, kernel scales and biases).
AffineQuantized affine_view(const FrozenLinearWeight::Impl& w);

#ifdef MLXFT_HAVE_DNNL
// The B operand of a matmul with W: W^T [in, out] (forward) or W [out, in] (transposed, dx = dy W):
// packed when packed, plain W otherwise; quantized per-call weights dequantized here. `keep` owns
// any transient buffer.
struct Operand {
  dnnl::memory::desc md;
  const void* ptr;
  std::vector<Buffer> keep;
};
Operand weight_operand(const FrozenLinearWeight::Impl& w, bool transposed);
// The transposed operand next to `forward` (weight_operand(w, false)): a per-call dequantized weight
// is read through the same buffer in the other layout (one transient [out, in], not two).
Operand transposed_operand(const FrozenLinearWeight::Impl& w, const Operand& forward);
#endif

}  // namespace mlxft::kernels
