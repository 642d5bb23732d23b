// RoPE fused with the split into heads, as a CPU kernel.
//
// Contract: x [B, T, heads * D] (float32 or bfloat16, D even) -> y [B, heads, T, D] in x's dtype,
// contiguous, rotated in the rotate-half (HF) convention: with h2 = D / 2, i < h2 and
// a = float32((offset + t) * inv_freq[i]),
//   y[b, h, t, i]      = x[b, t, h, i] cos a - x[b, t, h, i + h2] sin a
//   y[b, h, t, i + h2] = x[b, t, h, i + h2] cos a + x[b, t, h, i] sin a
// inv_freq holds h2 inverse frequencies (rope.h computes them, scalings applied). Its gradient is the
// inverse rotation, transposed back to [B, T, heads * D]. On a CPU stream with float32 or bfloat16
// input each direction is one multithreaded pass, computed in float32 (bfloat16 results rounded to
// nearest even), cos and sin computed once per token; MLX's CPU fast::rope evaluates its sin/cos per
// element, single-threaded, after a transpose copy (6 ms of a 12-head, 2 x 1024-token forward against
// this kernel's fraction of one). Elsewhere (GPU, other dtypes): rope_heads_reference(), MLX's
// reshape, transpose and fast::rope with the same frequencies.
#pragma once

#include <mlx/mlx.h>

#include <vector>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array rope_heads(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                     mx::StreamOrDevice s = {});
mx::array rope_heads_reference(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                               mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
