// `mlxft export gguf` and `mlxft export gguf-lora`: llama.cpp files of a model and of its adapter.
//
// Contract:
// - write_gguf_model() loads the model (any source; quantized weights dequantized) and, when given,
//   the adapter (checked to fit: a Model error naming it), merges it (fuse.h) and writes a GGUF v3
//   of the family's llama.cpp architecture (Family::gguf_architecture: llama, qwen2, qwen3, gemma3)
//   the way llama.cpp's convert_hf_to_gguf.py writes it: its tensor names (model/gguf_model.h's one
//   table, shared with the reader: Qwen2's attn_q/k/v.bias, attn_q_norm/attn_k_norm, Gemma's
//   post_attention_norm, ffn_norm (its pre-feed-forward norm) and post_ffw_norm), Q/K rows permuted
//   into llama.cpp's interleaved-pair order for llama only, Gemma's norms stored as 1 + w, no
//   output.weight when the embeddings are tied; the <arch>.* hyperparameters (context, embedding and
//   feed-forward length, block count, head counts, key/value_length, rope.dimension_count,
//   rope.freq_base, layer_norm_rms_epsilon, vocab_size, linear rope scaling; Gemma 3's
//   attention.sliding_window, sliding_window_pattern (its period, or one bool a layer) and
//   rope.freq_base_swa); general.file_type; the tokenizer (gguf_vocab_out.h) and the chat template.
//   Norms and biases are F32; matrices in `type` (F32, F16, Q8_0 or Q4_0, ggml_encode.h; a matrix
//   whose rows do not fit the 32-blocks stays F16). A llama3-scaled RoPE is a Model error (not
//   written yet).
// - write_gguf_lora() writes llama.cpp's LoRA adapter GGUF: general.type "adapter",
//   general.architecture the base's, adapter.type "lora", adapter.lora.alpha = scale * rank
//   (llama.cpp scales by alpha / rank), and per adapted module "<gguf tensor>.lora_a" = A [rank, in]
//   and ".lora_b" = B [out, rank] in F32, B's rows permuted for Q/K as the base's are (llama only).
//   A DoRA adapter is a Usage error (llama.cpp's adapters are LoRA only; the merged GGUF holds DoRA).
// - Both refuse (require_gguf_exportable(): a Usage error naming the model and pointing at the fused
//   HF directory and llama.cpp's converter) a family whose architecture is not one of those four,
//   and a Gemma 3 whose query_pre_attn_scalar is not the one llama.cpp assumes (head_dim; 27B:
//   hidden / heads), which no GGUF key can say.
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

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight" for a model of `config`
// (model/gguf_model.h gguf_tensor_name()); a logic_error for a tensor llama.cpp has no name for.
std::string llama_cpp_name(const std::string& hf_name, const ModelConfig& config);

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
