// New models with random weights, written in exactly the Hugging Face layout (`mlxft model init`).
//
// Contract: write_model() draws the weights with model/init.h random_weights() (the seed and dtype
// given) and writes config.json, model.safetensors (or shards model-0000K-of-0000N.safetensors and
// model.safetensors.index.json when the weights exceed the shard size), tokenizer.model (copied),
// tokenizer_config.json and generation_config.json into a staged directory published as a unit
// (util/durable_file.h); it refuses a non-empty `out` (Usage error). transformers' from_pretrained
// loads the result. It sits in export/, above model/ and tokenizer/, because it needs both (the
// tokenizer gives the vocabulary and the special tokens).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>

#include "mlxft/model/config.h"

namespace mlxft {

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
