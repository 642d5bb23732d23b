// float32 views of float32 or bfloat16 arrays for the element-wise kernels (swiglu, rms_norm,
// rope_heads), which compute in float32 whatever the activations' dtype.
//
// Contract: an F32Span is one buffer, owned by one thread.
//   read(a, off, n):  n float32 values of a's elements [off, off + n): a's own memory for float32,
//                     else converted from bfloat16 into the buffer (valid until the next call).
//   write(a, off, n): where to put n float32 values meant for a's elements [off, off + n);
//   commit(a, off, n): after writing them, stores them into a (bfloat16: rounded to nearest even;
//                     float32: nothing to do, write() pointed into a).
// Arrays are contiguous and float32 or bfloat16 (the primitives' entry points see to both).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <vector>

#include "mlxft/kernels/row_math.h"

namespace mlxft::kernels {

class F32Span {
 public:
  const float* read(const mlx::core::array& a, int64_t off, int64_t n) {
    if (a.dtype() == mlx::core::float32) return a.data<float>() + off;
    from_bf16(a.data<uint16_t>() + off, n, buffer(n));
    return buf_.data();
  }
  float* write(mlx::core::array& a, int64_t off, int64_t n) {
    return a.dtype() == mlx::core::float32 ? a.data<float>() + off : buffer(n);
  }
  void commit(mlx::core::array& a, int64_t off, int64_t n) const {
    if (a.dtype() != mlx::core::float32) to_bf16(buf_.data(), n, a.data<uint16_t>() + off);
  }

 private:
  float* buffer(int64_t n) {
    if (buf_.size() < static_cast<size_t>(n)) buf_.resize(static_cast<size_t>(n));
    return buf_.data();
  }
  std::vector<float> buf_;
};

// True for the activation dtypes the element-wise kernels take.
inline bool f32_or_bf16(mlx::core::Dtype t) {
  return t == mlx::core::float32 || t == mlx::core::bfloat16;
}

}  // namespace mlxft::kernels
