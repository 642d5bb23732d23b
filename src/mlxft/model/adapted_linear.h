// The adapted projection: everything an adapter kind (LoraConfig::kind) defines, in one place.
//
// Contract, per kind (AdapterKind::lora today; a new kind adds a case to each function here and
// its enum value in lora.h):
// - initial_adapter(): a module's new parameters, deterministic for a given key. LoRA, as PEFT
//   initialises it: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)), B = 0.
// - adapted_linear(): the projection's output given its frozen output y = x W^T. LoRA:
//     y + scale * (dropout(x) A^T) B^T        (lora_add(), lora_branch.h)
//   with inverted dropout (keep with probability 1 - p, kept values scaled by 1 / (1 - p)) drawn
//   from `dropout_key` when one is given; in y's dtype, differentiable in x, y and the adapter.
// - merged_weight(): the float32 weight [out, in] of the fused model for a float32 base weight W.
//   LoRA: W + scale * B A. (A merge, not a delta: a kind such as DoRA rescales W + delta.)
// - adapter_kind_name(): the kind's name in the adapter files (mlx-lm's fine_tune_type, llama.cpp's
//   adapter.type): "lora"; adapter_kind_named() is its inverse (nullopt for an unknown name).
// - adapter_tensors(): the names of the kind's tensors in the adapter files and checkpoints, in
//   LoraPair::arrays() order. LoRA: A then B.
#pragma once

#include <mlx/mlx.h>

#include <optional>
#include <string>
#include <vector>

#include "mlxft/model/lora.h"

namespace mlxft {

// One tensor of an adapter kind, by the suffix each format appends to the module's name.
struct AdapterTensorNames {
  std::string peft;    // "<module>.<peft>.weight" in PEFT files; "<module>.<peft>" in checkpoints
  std::string mlx_lm;  // "<module>.<mlx_lm>" in mlx-lm files (stored transposed)
  std::string gguf;    // "<gguf tensor>.<gguf>" in llama.cpp adapter GGUFs
};

const std::vector<AdapterTensorNames>& adapter_tensors(AdapterKind kind);
const std::string& adapter_kind_name(AdapterKind kind);
std::optional<AdapterKind> adapter_kind_named(const std::string& name);

LoraPair initial_adapter(const LoraConfig& config, int in, int out, const mlx::core::array& key);

mlx::core::array adapted_linear(const mlx::core::array& y, const mlx::core::array& x, const LoraPair& adapter,
                                const LoraConfig& config, const std::optional<mlx::core::array>& dropout_key);

mlx::core::array merged_weight(const mlx::core::array& w, const LoraPair& adapter, const LoraConfig& config);

}  // namespace mlxft
