// Rotary position embeddings with the scalings of config.h's RopeScaling.
//
// Contract: rope_inverse_frequencies() returns the D/2 inverse frequencies
// theta^(-2i/D) (D = head_dim) with the config's rope_scaling applied exactly as
// transformers' modeling_rope_utils.py does (default, linear, llama3).
// apply_rope() rotates x [B, heads, T, D] in the rotate-half (HF) convention for
// positions offset .. offset + T - 1; with no scaling it is MLX's fast::rope
// with base theta, otherwise fast::rope with those frequencies.
// split_heads_with_rope() takes a projection's output y [B, T, heads * D] to rotated heads
// [B, heads, T, D] through kernels::rope_heads(), which picks the CPU kernel (float32 angles of the
// frequencies above) or MLX's reshape, transpose and fast::rope exactly as apply_rope() does.
#pragma once

#include <mlx/mlx.h>

#include <vector>

#include "mlxft/model/config.h"

namespace mlxft {

std::vector<double> rope_inverse_frequencies(const ModelConfig& config);

mlx::core::array apply_rope(const mlx::core::array& x, const ModelConfig& config, int offset);

mlx::core::array split_heads_with_rope(const mlx::core::array& y, int heads, const ModelConfig& config,
                                       int offset);

}  // namespace mlxft
