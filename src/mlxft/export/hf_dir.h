// `mlxft fuse`: the base model with its LoRA adapter merged, as a Hugging Face directory.
//
// Contract: write_fused_model() loads the model (HF directory, MLX-quantized directory or GGUF
// file; quantized weights dequantized) and the adapter (PEFT or mlx-lm directory; optional),
// checks the adapter fits (a Model error naming it otherwise), merges it (fuse.h) and publishes
// `out` as a unit (StagedDirectory: nothing is left behind on failure) holding:
// - config.json: the base's own JSON in its own form (transformers 4 or 5), less MLX's
//   "quantization"/"quantization_config", with torch_dtype (or dtype) set to `dtype`; for a GGUF
//   base the config mlxft read from it, in the classic form;
// - model.safetensors, or shards of at most `shard_bytes` with model.safetensors.index.json;
// - the tokenizer files: copied from a directory; for a GGUF base rebuilt from its vocabulary
//   (hf_tokenizer.h).
// `out` must not exist (a Usage error naming it). Returns the number of tensors written.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "mlxft/model/lora.h"

namespace mlxft {

struct FuseOptions {
  std::filesystem::path model;
  std::filesystem::path adapter;  // empty: no adapter (a dequantized / cast copy of the base)
  std::filesystem::path out;
  mlx::core::Dtype dtype = mlx::core::float32;
  int64_t shard_bytes = 5'000'000'000;  // Hugging Face's default max_shard_size
};

struct FuseResult {
  int tensors = 0;
  int shards = 0;
  int64_t bytes = 0;
};

FuseResult write_fused_model(const FuseOptions& options);
// The same with adapters already in memory (options.adapter is ignored; null: none).
FuseResult write_fused_model(const FuseOptions& options, const LoraAdapters* adapters);

// A Usage error naming `out` when it exists: exports never overwrite.
void require_new_output(const std::filesystem::path& out, const std::string& option);

}  // namespace mlxft
