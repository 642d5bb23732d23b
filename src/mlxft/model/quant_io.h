// Writing an mlx-community (MLX-quantized) model directory.
//
// Contract: write_quantized_model() loads the Hugging Face directory `in` (load_model with
// `quantize`), casts every float array (norms, scales, biases) to `dtype` and writes into `out`
// (a new or empty directory, published as a unit): config.json (the input's own JSON plus
// "quantization" and the same object as "quantization_config", mlx-lm's layout),
// model.safetensors with metadata {"format": "mlx"}, and the tokenizer files the input has
// (tokenizer.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// generation_config.json), copied. load_model(out) reads it back. A GGUF or already-quantized
// input, or a non-empty `out`, is a Usage error naming it.
#pragma once

#include <mlx/mlx.h>

#include <filesystem>

#include "mlxft/model/quant.h"

namespace mlxft {

// Returns the quantized modules.
QuantMap write_quantized_model(const std::filesystem::path& in, const std::filesystem::path& out,
                               const QuantSpec& spec, mlx::core::Dtype dtype);

}  // namespace mlxft
