// Quantized base weights: which modules are quantized, how, and the arrays that hold them.
//
// Contract:
// - A quantized module "<path>" (e.g. "model.layers.3.mlp.down_proj", "model.embed_tokens") is
//   held as MLX's affine triplet "<path>.weight" (uint32 [out, in * bits / 32]), "<path>.scales"
//   and "<path>.biases" (float [out, in / group_size]); w = scale * q + bias per group.
// - quantizable_modules() lists every module with a weight matrix: the embedding, the seven
//   projections of each layer, and lm_head when the embeddings are not tied.
// - mlx_quantization() reads an mlx-community config.json: "quantization": {"group_size",
//   "bits"[, "mode"]} is the default; a per-module entry ("model.layers.3.mlp.down_proj":
//   {"group_size", "bits"} or false) overrides it. As mlx-lm does, a module without an entry is
//   quantized when `has_scales(module)` says its ".scales" tensor exists. A mode other than
//   "affine", bits outside {2, 3, 4, 5, 6, 8} or a group size outside {32, 64, 128} is a Model
//   error naming the file and the key.
// - quantize_weights() replaces the float weight of each quantizable module whose input width is
//   a multiple of the group size by its triplet (scales/biases in the weight's dtype), evaluated,
//   and returns the modules it quantized.
// - dequantize_module() is the module's float weight [out, in] in `dtype` (computed in float32).
// - mlx_quantization_json() is the "quantization" object that mlx_quantization() reads back.
#pragma once

#include <mlx/mlx.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlxft/model/config.h"

namespace mlxft {

struct QuantSpec {
  int bits = 4;
  int group_size = 32;
  bool operator==(const QuantSpec&) const = default;
};

using QuantMap = std::map<std::string, QuantSpec>;  // module path -> spec, quantized modules only

std::vector<std::string> quantizable_modules(const ModelConfig& config);

QuantMap mlx_quantization(const nlohmann::json& config_json, const ModelConfig& config,
                          const std::function<bool(const std::string&)>& has_scales, const std::string& file);

// A Model error naming `where` unless bits/group_size are ones MLX's affine mode takes.
void check_quant_spec(const QuantSpec& spec, const std::string& where);

QuantMap quantize_weights(std::unordered_map<std::string, mlx::core::array>& weights,
                          const ModelConfig& config, const QuantSpec& spec);

mlx::core::array dequantize_module(const std::unordered_map<std::string, mlx::core::array>& weights,
                                   const std::string& module, const QuantSpec& spec, mlx::core::Dtype dtype);

nlohmann::json mlx_quantization_json(const QuantMap& quantization, const ModelConfig& config);

}  // namespace mlxft
