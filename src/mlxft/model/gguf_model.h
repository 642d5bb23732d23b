// Models from GGUF files (llama.cpp's converter; architectures llama (Llama,
// Mistral, SmolLM2), qwen2, qwen3, gemma3, phi3), in mlxft's Hugging Face names and layout.
//
// Contract: gguf_model_config() builds a ModelConfig from the <arch>.* metadata
// of an already validated header (general.architecture one of those five; Gemma 3's
// sliding window, pattern and local RoPE base as llama.cpp reads them; Phi-3's
// rope.dimension_count as its partial rotary width, its sliding window on every layer, and
// longrope from rope_factors_short/long.weight with rope.scaling.original_context_length and
// attn_factor; its attn_qkv and ffn_up (gate | up) map to the fused qkv_proj / gate_up_proj;
// llama.rope.scaling.type none/linear honoured; tied embeddings when there is
// no output.weight) and gguf_hf_name() maps a GGUF tensor name to the HF one.
// load_gguf_model() validates the file with read_gguf(), checks every tensor's
// name, ggml type (gguf_type_loadable(): F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; others are refused naming file, tensor and
// type) and shape against the config (check_gguf_tensors(), which `model info`
// runs too, with or without the type check) (a Llama 3 rope_freqs.weight
// becomes the llama3 rope type when Llama 3's parameters reproduce its
// factors), and only then reads the tensors itself, one at a time
// (gguf_tensors.h; never mlx::core::load_gguf, whose k-quant scales are
// wrong). Q/K rows are turned back from llama.cpp's interleaved-pair order
// into the HF rotate-half order (for float tensors and for each array of a
// quantized triplet). Float tensors keep their dtype (F32 float32, F16
// float16, BF16 bfloat16); Q4_0/Q4_1/Q4_K (4 bits), Q5_0/Q5_1/Q5_K (5 bits)
// and Q8_0 (8 bits) stay quantized as MLX's affine triplet "<module>.weight"
// (uint32), "<module>.scales", "<module>.biases" (float16 where exact, else
// float32: the k-quants), group size 32, with the module's bits and group
// size in `quantization` (the mlx-community layout), every value equal to
// ggml's; Q2_K/Q3_K/Q6_K become float32 with ggml's values. Every problem is
// a Model error naming the file and the key or tensor, and what would work.
#pragma once

#include <mlx/mlx.h>

#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/config.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant.h"

namespace mlxft {

// Every tensor of `f` is one `c` expects (name and shape; with `types`, a ggml type mlxft loads) and
// none is missing; a Model error naming the file and tensor otherwise.
void check_gguf_tensors(const GgufFile& f, const ModelConfig& c, bool types = true);

struct GgufModel {
  ModelConfig config;
  std::unordered_map<std::string, mlx::core::array> weights;  // HF names (+ .scales/.biases when quantized)
  QuantMap quantization;                                      // module path -> spec, quantized modules only
  GgufFile header;  // metadata (tokenizer, chat template), tensor infos
};

ModelConfig gguf_model_config(const GgufFile& header);
// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight" ("blk.3.attn_q.bias" -> "...q_proj.bias");
// "" for a name with no HF counterpart. The family of `c` decides the names that differ (Gemma's
// ffn_norm is pre_feedforward_layernorm).
std::string gguf_hf_name(const std::string& gguf_name, const ModelConfig& c);
// The inverse, from the same table: "model.layers.3.self_attn.q_proj.bias" -> "blk.3.attn_q.bias"
// (Gemma's pre_feedforward_layernorm -> ffn_norm, post_attention_layernorm -> post_attention_norm);
// "" for a tensor llama.cpp has no name for.
std::string gguf_tensor_name(const std::string& hf_name, const ModelConfig& c);
// Whether llama.cpp's converter permuted the family's Q/K rows (llama only; qwen2/qwen3/gemma3 rotate
// NEOX-style and keep HF's order).
bool gguf_permutes_qk(const ModelConfig& c);
// What the converter added to every norm weight: 1 for Gemma (it stores 1 + w), else 0.
float gguf_norm_shift(const ModelConfig& c);

GgufModel load_gguf_model(const std::filesystem::path& file);

// Rows of a Q or K projection tensor (weight, or a quantized weight's scales/biases) from llama.cpp's
// order to HF's: within each of `heads` heads, row 2i + j moves to j * head_dim / 2 + i.
mlx::core::array unpermute_qk_rows(const mlx::core::array& rows, int heads);
// The inverse (HF -> llama.cpp), as convert_hf_to_gguf.py applies it.
mlx::core::array permute_qk_rows(const mlx::core::array& rows, int heads);

// A float Model (every quantized triplet dequantized, everything cast to `dtype`), evaluated.
Model gguf_float_model(const GgufModel& gguf, mlx::core::Dtype dtype);

}  // namespace mlxft
