// What final_model/ receives at the end of a run: the recipe's output.export list.
//
// Contract: write_final_exports() writes, for each name in `formats` (validated by the schema):
// peft -> final_model/peft/, mlx -> final_model/mlx/ (the adapters), fused -> final_model/fused/ (the
// Hugging Face directory of export/hf_dir.h, in the base's torch_dtype when it is a float type, else
// float32), gguf -> final_model/model.gguf (f16, adapter merged), gguf-lora -> final_model/adapter.gguf
// (export/gguf_export.h), each GGUF with its Ollama Modelfile. An earlier run's export of the same
// name is replaced. With a tool catalogue (data.tools), peft/ and mlx/ also get it as tools.json, which
// `mlxft eval --tool-calls` and `mlxft generate` use with that adapter. Returns the names written, relative
// to final_model/ ("peft/", "model.gguf", ...).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mlxft/model/lora.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

std::vector<std::string> write_final_exports(const std::filesystem::path& final_dir,
                                             const std::filesystem::path& model_path,
                                             const LoraAdapters& adapters, int num_layers,
                                             const std::vector<std::string>& formats,
                                             const OrderedJson* catalogue = nullptr);

}  // namespace mlxft
