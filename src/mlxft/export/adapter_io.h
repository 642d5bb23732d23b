// LoRA adapters on disk, in the two formats the ecosystem loads.
//
// Contract:
// - PEFT (Hugging Face PEFT, vLLM, TGI, llama.cpp's converter): a directory with
//   adapter_model.safetensors (keys "base_model.model.<module>.lora_A.weight" [r, in] and
//   "...lora_B.weight" [out, r]) and adapter_config.json (peft_type LORA, task_type CAUSAL_LM, r,
//   lora_alpha, lora_dropout, target_modules, layers_to_transform, ...).
// - mlx-lm (mlx_lm.generate --adapter-path, mlx_lm.fuse): adapters.safetensors (keys
//   "<module>.lora_a" [in, r] and "<module>.lora_b" [r, out], the transposes of PEFT's) and
//   adapter_config.json {fine_tune_type "lora", num_layers, lora_parameters {rank, scale, dropout,
//   keys}}. mlx-lm attaches adapters to the LAST num_layers layers; layers inside that range that
//   this adapter does not touch get mlx-lm's B = 0 initialisation and so change nothing.
// Saving writes float32 tensors to temporary files in `dir` (created if missing) and renames
// them into place, so a failed save never leaves a half-written adapter. Loading detects the
// format, validates every key and shape (Model errors naming the file and the tensor) and returns
// float32 arrays in PEFT orientation, already evaluated.
#pragma once

#include <filesystem>
#include <string>

#include "mlxft/model/lora.h"

namespace mlxft {

struct ModelConfig;

enum class AdapterFormat { Peft, MlxLm };

// `base_model` goes to base_model_name_or_path (a hub id or a local path).
void save_adapter_peft(const LoraAdapters& adapters, const std::filesystem::path& dir,
                       const std::string& base_model);

// `model_layers` is the adapted model's num_hidden_layers, needed for mlx-lm's num_layers. When
// the adapted layers are not exactly the last ones, this logs a warning saying which layers mlx-lm
// will also wrap (with zero-effect adapters) and still writes every key.
void save_adapter_mlx(const LoraAdapters& adapters, const std::filesystem::path& dir, int model_layers);

// The format of the adapter in `dir` (Model error when it holds neither).
AdapterFormat detect_adapter_format(const std::filesystem::path& dir);

LoraAdapters load_adapter(const std::filesystem::path& dir);

// Checks that every adapted module exists in `model` and has its (in, out) shape; `source`
// names the adapter in the Model error.
void check_adapter_fits(const LoraAdapters& adapters, const ModelConfig& model, const std::string& source);

}  // namespace mlxft
