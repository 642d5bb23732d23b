// `mlxft export gguf` and `mlxft export gguf-lora`: llama.cpp files of a model and of its adapter.
//
// Contract:
// - write_gguf_model() loads the model (any source; quantized weights dequantized) and, when given,
//   the adapter (checked to fit: a Model error naming it), merges it (fuse.h) and writes a GGUF v3
//   of architecture "llama": llama.cpp's tensor names (gguf_tensor_name()), Q/K rows permuted into
//   its interleaved-pair order, the llama.* hyperparameters (every key docs/gguf.md requires, plus
//   head_count_kv, rope.freq_base, key/value_length, vocab_size, linear rope scaling;
//   general.file_type), the tokenizer (gguf_vocab_out.h) and the chat template. Norms are F32;
//   matrices in `type` (F32, F16, Q8_0 or Q4_0, ggml_encode.h; a matrix whose rows do not fit the
//   32-blocks stays F16). A llama3-scaled RoPE is a Model error (not written yet).
// - write_gguf_lora() writes llama.cpp's LoRA adapter GGUF: general.type "adapter",
//   general.architecture "llama", adapter.type "lora", adapter.lora.alpha = scale * rank (llama.cpp
//   scales by alpha / rank), and per adapted module "<gguf tensor>.lora_a" = A [rank, in] and
//   ".lora_b" = B [out, rank] in F32, B's rows permuted for Q/K as the base's are. A DoRA adapter
//   is a Usage error (llama.cpp's adapters are LoRA only; the merged GGUF holds DoRA).
// - Both refuse a model of a family other than Llama/Mistral (require_gguf_exportable(): a Usage error
//   naming the model and pointing at the fused HF directory and llama.cpp's converter).
// - Both write through a temporary file renamed into place (nothing is left on failure), refuse an
//   existing `out` (Usage error) and write an Ollama Modelfile beside it (modelfile.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/lora.h"

namespace mlxft {

struct ModelConfig;
void require_gguf_exportable(const ModelConfig& config, const std::string& model);

// "f32" | "f16" | "q8_0" | "q4_0" -> the ggml type; anything else is a Usage error naming `where`.
GgmlType parse_gguf_export_type(const std::string& name, const std::string& where);

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight" (the inverse of gguf_hf_name).
std::string gguf_tensor_name(const std::string& hf_name);

struct GgufExportOptions {
  std::filesystem::path model;
  std::filesystem::path adapter;  // optional for write_gguf_model, required for write_gguf_lora
  std::filesystem::path out;
  GgmlType type = GgmlType::F16;
  std::filesystem::path base_gguf;  // write_gguf_lora: the Modelfile's FROM (default: the model if a .gguf)
};

struct GgufExportResult {
  int tensors = 0;
  uint64_t bytes = 0;  // the file's size
  std::filesystem::path modelfile;
};

GgufExportResult write_gguf_model(const GgufExportOptions& options);
GgufExportResult write_gguf_lora(const GgufExportOptions& options);
// The same with adapters already in memory (options.adapter only names them in messages).
GgufExportResult write_gguf_model(const GgufExportOptions& options, const LoraAdapters* adapters);
GgufExportResult write_gguf_lora(const GgufExportOptions& options, const LoraAdapters& adapters);

}  // namespace mlxft
