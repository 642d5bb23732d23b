// LoRA and DoRA adapters in mlx-lm's format (mlx_lm.generate --adapter-path, mlx_lm.fuse).
//
// Contract:
// - A directory with adapters.safetensors (keys "<module>.lora_a" [in, r] and "<module>.lora_b"
//   [r, out], the transposes of PEFT's, float32) and adapter_config.json {fine_tune_type "lora" or
//   "dora", num_layers, lora_parameters {rank, scale, dropout, keys}}; DoRA adds "<module>.m" [out].
// - mlx-lm attaches adapters to the LAST num_layers layers; layers inside that range that this
//   adapter does not touch get mlx-lm's B = 0 initialisation and so change nothing.
//   save_adapter_mlx() logs a warning naming them when the adapted layers are not exactly the last
//   ones, and still writes every key.
// - save_adapter_mlx() publishes the directory as a unit (util/durable_file.h StagedDirectory).
// - load_mlx_adapter() returns the arrays in PEFT orientation (A [r, in], B [out, r]),
//   contiguous and evaluated; alpha = scale * rank.
#pragma once

#include <filesystem>

#include "mlxft/model/lora.h"

namespace mlxft {

inline constexpr const char* kMlxWeightsFile = "adapters.safetensors";

// `model_layers` is the adapted model's num_hidden_layers, needed for mlx-lm's num_layers.
void save_adapter_mlx(const LoraAdapters& adapters, const std::filesystem::path& dir, int model_layers);

LoraAdapters load_mlx_adapter(const std::filesystem::path& dir);

}  // namespace mlxft
