// Architecture of a Llama/Mistral model, as read from a Hugging Face config.json.
//
// Contract: from_json() accepts the model_types of model/family.h (llama, mistral, qwen2, qwen3,
// gemma3_text, phi3) and every key the forward pass needs, in both forms transformers writes: the classic
// one (top-level rope_theta, rope_scaling, torch_dtype; transformers 4) and
// transformers 5's (rope_parameters {rope_theta, rope_type, ...}, dtype; Gemma 3's per layer type).
// The common keys are read here, a family's own keys by its family file. A
// key it cannot honour (a rope type other than default/linear/llama3 (and Phi-3's longrope),
// a bias the family does not have, a sliding window on a family without one,
// an unknown model_type) is a Config error naming the key and the file.
// Sizes are bounded (check_config_bounds) and values are never dumped whole into messages. A
// value of an unexpected JSON type is a Config error naming the file (and the key where a check
// knows it). to_json() writes a config.json that transformers loads, in the form it was
// read in (classic for a config made in memory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlxft {

// Bounds no real Llama/Mistral model reaches: a config beyond them is refused before anything is sized
// from it (the expected-weight list, the memory estimate), so a hostile number cannot allocate.
inline constexpr int64_t kMaxLayers = 1024;
inline constexpr int64_t kMaxHeads = 1024;
inline constexpr int64_t kMaxHeadDim = 1024;
inline constexpr int64_t kMaxWidth = 1LL << 20;       // hidden_size, intermediate_size
inline constexpr int64_t kMaxVocab = 1LL << 22;       // 4M tokens (Gemma's 256k is far below)
inline constexpr int64_t kMaxConfigValue = 1LL << 24;  // max_position_embeddings, token ids
inline constexpr uint64_t kMaxConfigJsonBytes = 16ull << 20;

// RoPE frequency scaling, as transformers' modeling_rope_utils.py defines it.
//   default: no scaling;  linear: every inverse frequency divided by `factor`;
//   llama3 (Llama 3.1/3.2): wavelengths above original_max / low_freq_factor divided by
//   `factor`, below original_max / high_freq_factor kept, interpolated in between.
//   longrope (Phi-3.5, Phi-4-mini; Phi-3 only): inverse frequency i divided by short_factor[i] while
//   the sequence is within original_max_position_embeddings, by long_factor[i] for a longer one
//   (transformers picks one set for the whole pass); cos and sin times attention_factor (the
//   config's, else sqrt(1 + ln(s) / ln(original)) with s = factor or max_position_embeddings /
//   original when above 1, else 1).
// partial_rotary_factor (Phi-3 only; transformers 5 keeps it in rope_parameters): the first
// int(head_dim * factor) features of each head rotate (rotate-half within them), the rest pass.
struct RopeScaling {
  std::string type = "default";  // "default" | "linear" | "llama3" | "longrope"
  double factor = 1.0;
  double low_freq_factor = 1.0;                 // llama3 only
  double high_freq_factor = 4.0;                // llama3 only
  int original_max_position_embeddings = 8192;  // llama3 and longrope
  std::vector<double> short_factor{}, long_factor{};  // longrope only: one per rotated frequency
  double attention_factor = 1.0;                  // longrope only
  double partial_rotary_factor = 1.0;
  bool operator==(const RopeScaling&) const = default;
};

// Which config.json layout a config came from (and to_json() writes back).
enum class ConfigForm {
  Classic,        // rope_theta, rope_scaling, torch_dtype at the top level
  Transformers5,  // rope_parameters {rope_theta, rope_type, ...}, dtype
};

struct ModelConfig;
// Every size within the bounds above, no weight over 2^34 elements, bos/eos inside the vocabulary;
// a Config error at "source: key" otherwise. from_json() and the GGUF config reader call it.
void check_config_bounds(const ModelConfig& c, const std::string& source);

struct ModelConfig {
  std::string model_type = "mistral";
  int vocab_size = 32768;
  int hidden_size = 4096;
  int intermediate_size = 14336;
  int num_hidden_layers = 32;
  int num_attention_heads = 32;
  int num_key_value_heads = 8;
  int head_dim = 128;  // explicit in config.json or hidden_size / num_attention_heads
  float rope_theta = 1e6f;
  RopeScaling rope_scaling;
  float rms_norm_eps = 1e-5f;
  float initializer_range = 0.02f;  // std of random init (mlxft model init); unused when loading
  int max_position_embeddings = 32768;
  bool tie_word_embeddings = false;
  std::string torch_dtype = "bfloat16";
  int bos_token_id = 1;
  int eos_token_id = 2;
  ConfigForm form = ConfigForm::Classic;
  // Family keys (model/family.h reads and writes them); Llama's values by default.
  int sliding_window = 0;             // keys a sliding layer's query sees (itself included); 0: none
  std::vector<bool> sliding_layers;   // per layer, whether it attends through the window; empty: none
  float rope_local_theta = 10000.0f;  // RoPE base of the sliding layers (Gemma 3's rope_local_base_freq)
  float query_pre_attn_scalar = 0.0f;  // attention scale query_pre_attn_scalar^-0.5; 0: head_dim^-0.5
  int pad_token_id = -1;  // Phi-3 keeps config.json's for the config it writes back; -1: none

  // Features of each head that RoPE rotates: int(head_dim * partial_rotary_factor), head_dim by default.
  // (A hair above the product before truncating, so a factor derived as R / head_dim gives R back.)
  int rotary_dim() const { return static_cast<int>(head_dim * rope_scaling.partial_rotary_factor + 1e-9); }

  bool is_sliding(int layer) const {
    return layer >= 0 && static_cast<size_t>(layer) < sliding_layers.size() && sliding_layers[layer];
  }

  // `source` names the file in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  static ModelConfig from_file(const std::filesystem::path& config_json);  // a regular file only
  nlohmann::json to_json() const;

 private:
  static ModelConfig read_config(const nlohmann::json& j, const std::string& source);

 public:

  int64_t parameter_count() const;  // every base weight, embeddings and head included
  // The layers' projections (q, k, v, o, gate, up, down of every layer): the frozen matmul weights
  // besides the LM head; no norms, no embedding.
  int64_t projection_parameter_count() const;
};

}  // namespace mlxft
