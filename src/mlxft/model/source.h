// The model-source seam: what a model on disk is made of, whatever its packaging.
//
// Kinds: a Hugging Face directory, a .gguf file and an MLX-quantized directory; load_model()
// (llama.h) loads all three.
// Contract:
// - resolve_model_source(path) looks at the path only (no tensor is read) and says where each
//   part lives:
//   - HF directory: config.json, model.safetensors or the shards model.safetensors.index.json
//     names, tokenizer.model (else tokenizer.json when only that exists), and the chat template
//     text of tokenizer_config.json ("chat_template") when it has one.
//   - GGUF file: config, weights, tokenizer and chat template are all inside the one file.
//   - MLX-quantized directory: an HF layout whose config.json has a "quantization" object
//     ({group_size, bits}); weights come as (weight, scales, biases) triplets.
// - A shipped model's name (`shipped:NAME`, shipped.h) resolves to its file first; `path` is then
//   that file.
// - A missing path or one that is neither a directory nor a .gguf file is a Model error naming it.
//   Missing parts (config.json, weights) are reported later by the loaders, with their own errors.
// - require_supported_source() accepts every kind today (each has a loader).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace mlxft {

enum class ModelSourceKind { HfDirectory, GgufFile, MlxQuantizedDirectory };

struct Quantization {
  int group_size = 64;
  int bits = 4;
};

struct ModelSource {
  ModelSourceKind kind = ModelSourceKind::HfDirectory;
  std::filesystem::path path;                // the directory, or the .gguf file
  std::filesystem::path config_file;         // config.json; the .gguf file itself for GGUF
  std::filesystem::path weights_index;       // model.safetensors.index.json when the weights are sharded
  std::filesystem::path tokenizer_file;      // tokenizer.model | tokenizer.json | the .gguf file
  std::optional<std::string> chat_template;  // Jinja text as the model ships it, if any
  std::optional<Quantization> quantization;  // MLX-quantized directories
};

ModelSource resolve_model_source(const std::filesystem::path& path_or_name);

const char* to_string(ModelSourceKind kind);

void require_supported_source(const ModelSource& source);

}  // namespace mlxft
