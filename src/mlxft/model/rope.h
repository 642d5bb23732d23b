// Rotary position embeddings with the scalings of config.h's RopeScaling.
//
// Contract: rope_inverse_frequencies() returns the D/2 inverse frequencies
// theta^(-2i/D) (D = head_dim) with the config's rope_scaling applied exactly as
// transformers' modeling_rope_utils.py does (default, linear, llama3).
// apply_rope() rotates x [B, heads, T, D] in the rotate-half (HF) convention for
// positions offset .. offset + T - 1; with no scaling it is MLX's fast::rope
// with base theta, otherwise fast::rope with those frequencies.
#pragma once

#include <mlx/mlx.h>

#include <vector>

#include "mlxft/model/config.h"

namespace mlxft {

std::vector<double> rope_inverse_frequencies(const ModelConfig& config);

mlx::core::array apply_rope(const mlx::core::array& x, const ModelConfig& config, int offset);

}  // namespace mlxft
