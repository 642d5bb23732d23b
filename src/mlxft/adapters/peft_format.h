// LoRA and DoRA adapters in Hugging Face PEFT's format (PEFT, vLLM, TGI, llama.cpp's converter).
//
// Contract:
// - A directory with adapter_model.safetensors (keys "base_model.model.<module>.lora_A.weight"
//   [r, in] and "...lora_B.weight" [out, r], float32, metadata {"format": "pt"}) and
//   adapter_config.json (peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, lora_dropout,
//   target_modules, layers_to_transform, use_dora, ...). A DoRA adapter (use_dora true) also has
//   "...lora_magnitude_vector" [out] per module (PEFT 0.21's name: no ".weight").
// - save_adapter_peft() publishes the directory as a unit (util/durable_file.h StagedDirectory):
//   it holds exactly these two files afterwards, and a failed save leaves the old one untouched.
// - load_peft_adapter() reads LoRA and DoRA (use_dora) adapters and rejects what it cannot honour
//   (biases, Conv1D weights, per-module ranks or alphas) with a Model error naming the key.
#pragma once

#include <filesystem>
#include <string>

#include "mlxft/model/lora.h"

namespace mlxft {

inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";

// `base_model` goes to base_model_name_or_path (a hub id or a local path).
void save_adapter_peft(const LoraAdapters& adapters, const std::filesystem::path& dir,
                       const std::string& base_model);

LoraAdapters load_peft_adapter(const std::filesystem::path& dir);

}  // namespace mlxft
