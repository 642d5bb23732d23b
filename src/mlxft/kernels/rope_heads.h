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
// nearest even), cos and sin computed once per token, where MLX's CPU fast::rope evaluates its sin/cos
// per element, single-threaded, after a transpose copy. Where cpu_kernels_run_on() is false
// (switches.h: GPU, MLXFT_KERNELS=0) and for other dtypes: rope_heads_reference(), MLX's reshape,
// transpose and fast::rope with the same frequencies.
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <vector>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array rope_heads(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                     mx::StreamOrDevice s = {});
// The model's form (model/rope.cpp): inv_freq in double, rounded to float32 for the kernel above where
// it runs; elsewhere MLX's split into heads and fast::rope, with `base` when given (unscaled RoPE:
// fast::rope's own frequencies theta^(-2i/D)), else with the periods 1 / inv_freq.
mx::array rope_heads(const mx::array& x, int heads, const std::vector<double>& inv_freq,
                     std::optional<float> base, int offset, mx::StreamOrDevice s = {});
mx::array rope_heads_reference(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                               mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
