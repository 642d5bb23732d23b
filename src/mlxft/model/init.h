// New models with random weights, written in exactly the Hugging Face layout.
//
// Contract: preset_config() gives the shapes of the named presets (tiny,
// small, mistral-7b-shape) with Mistral v0.3's rope_theta/eps and the given
// vocab. random_weights() draws every tensor of expected_weights() from
// N(0, initializer_range^2) (0.02 unless the config says; norm weights are ones), deterministically from the
// seed. write_model() writes config.json, model.safetensors (or shards model-0000K-of-0000N.safetensors and
// model.safetensors.index.json when the weights exceed the shard size), tokenizer.model (copied),
// tokenizer_config.json and generation_config.json into a staged directory
// published as a unit (util/durable_file.h); it refuses a non-empty `out` (Usage
// error). transformers' from_pretrained loads the result.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "mlxft/model/config.h"

namespace mlxft {

// Throws a Usage error for an unknown preset name.
ModelConfig preset_config(const std::string& preset, int vocab_size);

std::unordered_map<std::string, mlx::core::array> random_weights(const ModelConfig& config, uint64_t seed,
                                                                 mlx::core::Dtype dtype);

struct InitOptions {
  ModelConfig config;               // vocab_size, bos/eos are taken from the tokenizer
  std::filesystem::path tokenizer;  // a SentencePiece tokenizer.model
  uint64_t seed = 0;
  mlx::core::Dtype dtype = mlx::core::float32;
  int64_t shard_size_mb = 5000;  // Hugging Face's default max_shard_size (5 GB)
  std::filesystem::path out;
};

// Writes the model; returns the final config (vocab from the tokenizer, torch_dtype set).
ModelConfig write_model(const InitOptions& options);

}  // namespace mlxft
