// LoRA adapters on disk: the format of a directory and loading whichever it holds.
//
// Contract:
// - The two formats are PEFT (peft_format.h) and mlx-lm (mlx_lm_format.h); saving goes straight
//   to save_adapter_peft() / save_adapter_mlx(), re-exported here.
// - detect_adapter_format(dir) tells them apart by their weights file; a directory with neither
//   (or no directory) is a Model error naming it.
// - load_adapter(dir) validates every key and shape (Model errors naming the file and the tensor)
//   and returns float32 arrays in PEFT orientation, already evaluated.
// - check_adapter_fits() checks every adapted module exists in the model with its (in, out)
//   shape; `source` names the adapter in the Model error.
#pragma once

#include <filesystem>
#include <string>

#include "mlxft/adapters/mlx_lm_format.h"
#include "mlxft/adapters/peft_format.h"
#include "mlxft/model/lora.h"

namespace mlxft {

struct ModelConfig;

enum class AdapterFormat { Peft, MlxLm };

AdapterFormat detect_adapter_format(const std::filesystem::path& dir);

LoraAdapters load_adapter(const std::filesystem::path& dir);

void check_adapter_fits(const LoraAdapters& adapters, const ModelConfig& model, const std::string& source);

}  // namespace mlxft
