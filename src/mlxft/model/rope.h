// Rotary position embeddings with the scalings of config.h's RopeScaling.
//
// Contract: rope_inverse_frequencies() returns the R/2 inverse frequencies
// theta^(-2i/R) (R = config.rotary_dim(): head_dim, or Phi-3's partial width) with the config's
// rope_scaling applied exactly as transformers' modeling_rope_utils.py does (default, linear,
// llama3, longrope: its long factors when sequence_end, the positions the pass reaches, is beyond
// original_max_position_embeddings, else the short ones).
// apply_rope() rotates x [B, heads, T, D] in the rotate-half (HF) convention for
// positions offset .. offset + T - 1 (the first R features; the rest pass unchanged); with no
// scaling it is MLX's fast::rope with base theta, otherwise fast::rope with those frequencies.
// longrope's attention factor multiplies the rotated features of q and k (transformers scales cos
// and sin). A pass that starts at a cached offset within original_max_position_embeddings and
// ends past it is a Config error (its cached keys turned with the short factors).
// split_heads_with_rope() takes a projection's output y [B, T, heads * D] to rotated heads
// [B, heads, T, D] through kernels::rope_heads(), which picks the CPU kernel (float32 angles of the
// frequencies above) or MLX's reshape, transpose and fast::rope exactly as apply_rope() does.
#pragma once

#include <mlx/mlx.h>

#include <vector>

#include "mlxft/model/config.h"

namespace mlxft {

std::vector<double> rope_inverse_frequencies(const ModelConfig& config, int sequence_end = 0);

mlx::core::array apply_rope(const mlx::core::array& x, const ModelConfig& config, int offset);

mlx::core::array split_heads_with_rope(const mlx::core::array& y, int heads, const ModelConfig& config,
                                       int offset);

}  // namespace mlxft
