// Shared by the export tests: a tiny model directory (mlxft model init, real v3 tokenizer) and a
// PEFT adapter on it whose B is not zero (so a lost or transposed adapter shows in the logits).
#pragma once

#include <filesystem>

#include "mlxft/model/lora.h"

namespace mlxft::test {

// Writes the tiny model into `dir` (skips the test when the v3 tokenizer is absent, see init_tiny_model).
void tiny_model_dir(const std::filesystem::path& dir);
// Adapters on every projection of the tiny model (rank 4, alpha 8), B ~ N(0, 0.05^2), seed fixed.
// `kind` dora: the magnitudes start at the base's row norms (of `model_dir`'s weights, dequantized
// when quantized), times 1 + N(0, 0.1^2), so that they matter too.
LoraAdapters tiny_adapters(const std::filesystem::path& model_dir, AdapterKind kind = AdapterKind::lora);
// The same, saved as a PEFT directory.
void save_tiny_adapter(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir);

}  // namespace mlxft::test
