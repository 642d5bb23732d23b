// The base weights of a Hugging Face directory of any supported family (model/family.h).
//
// Contract: expected_weights() lists every tensor a model of this shape has,
// in HF names and shapes (no lm_head.weight when the embeddings are tied): Llama's, and after each
// layer's nine the family's extra tensors (family.h: biases, q/k norms, Gemma's feed-forward norms).
// load_weights() reads model.safetensors, or the shards that
// model.safetensors.index.json names (never consolidated.safetensors), each
// header checked first, and compares what it found with expected_weights():
// missing tensors, wrong shapes and unexpected tensors are reported together
// in one Model error (file, tensor, both shapes; at most 10 lines). The
// arrays keep their stored dtype; callers cast. With a QuantMap, each quantized
// module is expected as its triplet (quant.h): weight uint32 [out, in * bits / 32],
// scales and biases [out, in / group_size]. stored_tensor_names() lists the
// tensors of the directory from the index or the safetensors header alone.
#pragma once

#include <mlx/mlx.h>

#include <filesystem>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mlxft/model/config.h"
#include "mlxft/model/quant.h"

namespace mlxft {

std::vector<std::pair<std::string, mlx::core::Shape>> expected_weights(const ModelConfig& config,
                                                                       const QuantMap& quantization = {});

std::unordered_map<std::string, mlx::core::array> load_weights(const std::filesystem::path& dir,
                                                               const ModelConfig& config,
                                                               const QuantMap& quantization = {});

std::set<std::string> stored_tensor_names(const std::filesystem::path& dir);

// "float32" | "bfloat16" | "float16" -> dtype; anything else is a Usage error naming `where`.
mlx::core::Dtype parse_dtype(const std::string& name, const std::string& where);
// "float32" | "bfloat16" | "float16" | ...: the one name of each dtype in messages and config files.
std::string dtype_name(mlx::core::Dtype dtype);
// "[4096, 1024]": the one way messages write a shape.
std::string shape_string(const mlx::core::Shape& shape);
// float32 when MLX runs on the CPU (its bf16 CPU matmul is ~50x slower), bfloat16 on a GPU.
mlx::core::Dtype default_compute_dtype();

}  // namespace mlxft
