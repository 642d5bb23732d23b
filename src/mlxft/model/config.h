// Architecture of a Llama/Mistral model, as read from a Hugging Face config.json.
//
// Contract: from_json() accepts model_type "mistral" or "llama" and every
// key the forward pass needs; a key it cannot honour (rope_scaling of a kind
// not implemented, attention/MLP bias, a sliding_window smaller than
// max_position_embeddings, an unknown model_type) is a Config error naming
// the key and the file. to_json() writes a config.json that transformers loads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace mlxft {

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
  float rms_norm_eps = 1e-5f;
  int max_position_embeddings = 32768;
  bool tie_word_embeddings = false;
  std::string torch_dtype = "bfloat16";
  int bos_token_id = 1;
  int eos_token_id = 2;

  // `source` names the file in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  static ModelConfig from_file(const std::filesystem::path& config_json);
  nlohmann::json to_json() const;

  int64_t parameter_count() const;  // every base weight, embeddings and head included
};

}  // namespace mlxft
