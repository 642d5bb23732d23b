// The adapted projection: everything an adapter kind (LoraConfig::kind) defines, in one place.
//
// Contract, per kind (a new kind adds a case to each function here and its enum value in lora.h):
// - initial_adapter(): a module's new parameters, deterministic for a given key. LoRA, as PEFT
//   initialises it: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)), B = 0.
//   DoRA: the same A and B, and the magnitude m = ||W||_row (one norm per output row of the float32
//   base weight W [out, in] that `base_weight` gives; only DoRA calls it), so that the initial
//   output equals the base model's.
// - adapted_linear(): the projection's output given its frozen output y = x W^T. LoRA:
//     y + scale * (dropout(x) A^T) B^T        (lora_add(), lora_branch.h)
//   with inverted dropout (keep with probability 1 - p, kept values scaled by 1 / (1 - p)) drawn
//   from `dropout_key` when one is given; in y's dtype, differentiable in x, y and the adapter.
//   DoRA (PEFT's use_dora, mlx-lm's fine_tune_type dora):
//     (m / n) * (y + scale * (dropout(x) A^T) B^T),   n = ||W + scale * B A||_row   [out]
//   with W the frozen weight `w` in float32 (dequantized when quantized) and n a constant of the
//   gradient (stop_gradient), as PEFT and mlx-lm detach it: gradients reach A and B through the
//   numerator only, and m exactly. An adapter with LoraPair::fixed_norm uses that n instead. Without dropout this is PEFT's and mlx-lm's output; with dropout
//   it is mlx-lm's (PEFT also feeds the dropped x to the base term of the magnitude's rescaling).
// - merged_weight(): the float32 weight [out, in] of the fused model for a float32 base weight W.
//   LoRA: W + scale * B A. DoRA: (m / n) * (W + scale * B A), row by row (not a delta).
// - adapter_kind_name(): the kind's name in the adapter files (mlx-lm's fine_tune_type, llama.cpp's
//   adapter.type): "lora", "dora"; adapter_kind_named() is its inverse (nullopt for an unknown name).
//   adapter_kinds() lists every kind.
// - adapter_tensors(): the names of the kind's tensors in the adapter files and checkpoints, in
//   LoraPair::arrays() order. LoRA: A then B. DoRA: A, B, then the magnitude (PEFT 0.21 saves it as
//   "<module>.lora_magnitude_vector", without ".weight"; mlx-lm as "<module>.m"; llama.cpp has none).
#pragma once

#include <mlx/mlx.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/model/linear.h"
#include "mlxft/model/lora.h"

namespace mlxft {

// One tensor of an adapter kind, by the suffix each format appends to the module's name.
struct AdapterTensorNames {
  std::string peft;       // "<module>.<peft>" in checkpoints
  std::string peft_file;  // "<module>.<peft_file>" in PEFT files ("lora_A.weight", "lora_magnitude_vector")
  std::string mlx_lm;     // "<module>.<mlx_lm>" in mlx-lm files (matrices stored transposed)
  std::string gguf;       // "<gguf tensor>.<gguf>" in llama.cpp adapter GGUFs; empty: llama.cpp has none
};

const std::vector<AdapterTensorNames>& adapter_tensors(AdapterKind kind);
const std::string& adapter_kind_name(AdapterKind kind);
std::optional<AdapterKind> adapter_kind_named(const std::string& name);
const std::vector<AdapterKind>& adapter_kinds();

LoraPair initial_adapter(const LoraConfig& config, int in, int out, const mlx::core::array& key,
                         const std::function<mlx::core::array()>& base_weight);

mlx::core::array adapted_linear(const mlx::core::array& y, const mlx::core::array& x, const FrozenWeight& w,
                                const LoraPair& adapter, const LoraConfig& config,
                                const std::optional<mlx::core::array>& dropout_key);

mlx::core::array merged_weight(const mlx::core::array& w, const LoraPair& adapter, const LoraConfig& config);

// DoRA's n = ||W + scale * B A||_row [out], float32, for a float32 W [out, in] (no stop_gradient).
mlx::core::array dora_weight_norm(const mlx::core::array& w, const LoraPair& adapter, const LoraConfig& config);

}  // namespace mlxft
