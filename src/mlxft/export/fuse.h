// Merging LoRA adapters into the base weights: the float weights of the fused model.
//
// Contract: fused_weights() returns every tensor of expected_weights(model.config) (HF names and
// shapes) as a float array in `dtype`: a quantized module (MLX triplet, GGUF Q4/Q8) is
// dequantized first, then each adapted projection becomes merged_weight() (adapted_linear.h; LoRA:
// W + scale * B A; DoRA: m / ||W + scale * B A||_row * (W + scale * B A)), all computed in
// float32 and cast once at the end. `adapters` may be null (the base, dequantized and cast).
// The arrays are lazy; callers evaluate them as they write (one shard, one tensor at a time).
#pragma once

#include <mlx/mlx.h>

#include <filesystem>
#include <string>
#include <unordered_map>

#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"

namespace mlxft {

std::unordered_map<std::string, mlx::core::array> fused_weights(const Model& model,
                                                                const LoraAdapters* adapters,
                                                                mlx::core::Dtype dtype);

// The dtype to load a base in for merging: its own float dtype (config.json's torch_dtype / dtype), so
// a bfloat16 7B model is held in 14 GB, not 28; float32 for a GGUF file or an unreadable dtype. The
// merge itself runs in float32 one tensor at a time.
mlx::core::Dtype stored_float_dtype(const std::filesystem::path& model);

// The float32 weight [out, in] of one module of the base model (dequantized when quantized).
mlx::core::array base_float_weight(const Model& model, const std::string& module);

}  // namespace mlxft
