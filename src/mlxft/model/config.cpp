// ModelConfig <-> Hugging Face config.json (see config.h for the contract).
#include "mlxft/model/config.h"

#include <algorithm>

#include "mlxft/model/config_rope.h"
#include "mlxft/model/family.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {
namespace {

using nlohmann::json;

Error config_error(const std::string& source, const std::string& key, const std::string& what,
                   const std::string& hint = {}) {
  return Error(ErrorKind::Config, source + ": " + key, what, hint);
}

// A required positive integer key, at most `most` (the bounds of check_config_bounds()).
int positive_int(const json& j, const std::string& source, const std::string& key,
                 int64_t most = kMaxConfigValue) {
  if (!j.contains(key) || j[key].is_null()) {
    throw config_error(source, key, "missing", "a Llama/Mistral config.json always has it");
  }
  if (!j[key].is_number_integer() || (j[key].is_number_unsigned() && j[key].get<uint64_t>() > (1ULL << 62)) ||
      j[key].get<int64_t>() < 1) {
    throw config_error(source, key, "must be a positive integer, got " + json_brief(j[key]));
  }
  if (j[key].get<int64_t>() > most) {
    throw config_error(source, key,
                       json_brief(j[key]) + " is beyond any real model (at most " + std::to_string(most) + ")",
                       "the file is damaged or not a Llama/Mistral config.json");
  }
  return j[key].get<int>();
}

float positive_float(const json& j, const std::string& source, const std::string& key, float fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number() || !(j[key].get<double>() > 0.0) || !(j[key].get<double>() < 1e30)) {
    throw config_error(source, key, "must be a positive number, got " + json_brief(j[key]));
  }
  return j[key].get<float>();
}

// bos/eos ids are an int, or (Llama 3) a list whose first entry we use.
int token_id(const json& j, const std::string& source, const std::string& key, int fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > (1ULL << 62)) ||
      v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxConfigValue) {
    throw config_error(source, key, "must be a non-negative token id, got " + json_brief(j[key]));
  }
  return v.get<int>();
}

bool is_true(const json& j, const std::string& key) {
  return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& j, const std::string& source) {
  try {
    return read_config(j, source);
  } catch (const json::exception& e) {  // a value of a type no check above expected
    throw config_error(source, "(a value)", std::string("has an unexpected JSON type: ") + e.what(),
                       "compare the file with the model's original config.json");
  }
}

ModelConfig ModelConfig::read_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw config_error(source, "(top level)", "must be a JSON object, got " + json_brief(j));
  ModelConfig c;
  c.model_type = json_string(j, "model_type", source, "", ErrorKind::Config);
  if (c.model_type == "gemma3") {
    throw config_error(source, "model_type", "the multimodal Gemma 3 (gemma3, Gemma3ForConditionalGeneration) is not supported",
                       "mlxft reads the text model (model_type gemma3_text: gemma-3-270m, gemma-3-1b)");
  }
  const Family& family = family_of(c.model_type, source);
  c.vocab_size = positive_int(j, source, "vocab_size", kMaxVocab);
  c.hidden_size = positive_int(j, source, "hidden_size", kMaxWidth);
  c.intermediate_size = positive_int(j, source, "intermediate_size", kMaxWidth);
  c.num_hidden_layers = positive_int(j, source, "num_hidden_layers", kMaxLayers);
  c.num_attention_heads = positive_int(j, source, "num_attention_heads", kMaxHeads);
  c.num_key_value_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                              ? positive_int(j, source, "num_key_value_heads", kMaxHeads)
                              : c.num_attention_heads;
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw config_error(source, "num_key_value_heads",
                       std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
                           std::to_string(c.num_attention_heads));
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.head_dim = positive_int(j, source, "head_dim", kMaxHeadDim);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      throw config_error(source, "hidden_size",
                         std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                             std::to_string(c.num_attention_heads),
                         "set head_dim explicitly");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) throw config_error(source, "head_dim", "must be even for RoPE");
  detail::read_rope_and_dtype(j, source, c, family.local_rope, family.partial_longrope);  // rope_theta, scaling, dtype; either form
  c.rms_norm_eps = positive_float(j, source, "rms_norm_eps", 1e-6f);
  // Only random init (mlxft model init) uses it, so a loader never fails on it.
  if (j.contains("initializer_range") && j["initializer_range"].is_number() &&
      j["initializer_range"].get<double>() > 0 && j["initializer_range"].get<double>() < 1e6) {
    c.initializer_range = j["initializer_range"].get<float>();
  }
  c.max_position_embeddings =
      j.contains("max_position_embeddings") ? positive_int(j, source, "max_position_embeddings") : 2048;
  c.tie_word_embeddings = is_true(j, "tie_word_embeddings");
  c.bos_token_id = token_id(j, source, "bos_token_id", 1);
  c.eos_token_id = token_id(j, source, "eos_token_id", 2);
  check_config_bounds(c, source);

  family.read(j, source, c);  // the family's own keys (family_*.cpp)
  return c;
}

ModelConfig ModelConfig::from_file(const std::filesystem::path& config_json) {
  return from_json(read_untrusted_json(config_json, "model's config.json", kMaxConfigJsonBytes),
                   config_json.string());
}

void check_config_bounds(const ModelConfig& c, const std::string& source) {
  const auto check = [&](const char* key, int64_t value, int64_t most) {
    if (value < 1 || value > most) {
      throw config_error(source, key,
                         std::to_string(value) + " is outside [1, " + std::to_string(most) +
                             "], beyond any real model",
                         "the file is damaged or not a Llama/Mistral model");
    }
  };
  check("vocab_size", c.vocab_size, kMaxVocab);
  check("hidden_size", c.hidden_size, kMaxWidth);
  check("intermediate_size", c.intermediate_size, kMaxWidth);
  check("num_hidden_layers", c.num_hidden_layers, kMaxLayers);
  check("num_attention_heads", c.num_attention_heads, kMaxHeads);
  check("num_key_value_heads", c.num_key_value_heads, kMaxHeads);
  check("head_dim", c.head_dim, kMaxHeadDim);
  check("max_position_embeddings", c.max_position_embeddings, kMaxConfigValue);
  // No weight over 2^34 elements: every count derived from the config fits 64 bits with room to spare.
  const int64_t q_out = static_cast<int64_t>(c.num_attention_heads) * c.head_dim;
  const int64_t widest = std::max({q_out, static_cast<int64_t>(c.intermediate_size),
                                   static_cast<int64_t>(c.vocab_size)});
  if (widest * c.hidden_size > (1LL << 34)) {
    throw config_error(source, "hidden_size",
                       "a weight of " + std::to_string(widest) + " x " + std::to_string(c.hidden_size) +
                           " elements is beyond any real model",
                       "the file is damaged or not a Llama/Mistral model");
  }
  for (const auto& [key, id] : {std::pair{"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id}}) {
    if (id < 0 || id >= c.vocab_size) {
      throw config_error(source, key,
                         "token id " + std::to_string(id) + " is outside the vocabulary (vocab_size " +
                             std::to_string(c.vocab_size) + ")");
    }
  }
}

json ModelConfig::to_json() const {
  const Family& family = family_of(model_type);
  json j = {
      {"architectures", {family.architecture}},
      {"attention_dropout", 0.0},
      {"bos_token_id", bos_token_id},
      {"eos_token_id", eos_token_id},
      {"head_dim", head_dim},
      {"hidden_size", hidden_size},
      {"initializer_range", initializer_range},
      {"intermediate_size", intermediate_size},
      {"max_position_embeddings", max_position_embeddings},
      {"model_type", model_type},
      {"num_attention_heads", num_attention_heads},
      {"num_hidden_layers", num_hidden_layers},
      {"num_key_value_heads", num_key_value_heads},
      {"rms_norm_eps", rms_norm_eps},
      {"tie_word_embeddings", tie_word_embeddings},
      {"use_cache", true},
      {"vocab_size", vocab_size},
  };
  family.write(*this, j);
  detail::write_rope_and_dtype(*this, j, family.local_rope, family.partial_longrope);
  return j;
}

int64_t ModelConfig::projection_parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t q_out = static_cast<int64_t>(num_attention_heads) * head_dim;
  const int64_t kv_out = static_cast<int64_t>(num_key_value_heads) * head_dim;
  const int64_t attention = h * q_out + 2 * h * kv_out + q_out * h;
  const int64_t mlp = 3 * h * intermediate_size;
  return num_hidden_layers * (attention + mlp);
}

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t norms = (2 * static_cast<int64_t>(num_hidden_layers) + 1) * h;  // 2 a layer + the final
  const int64_t embedding = static_cast<int64_t>(vocab_size) * h;
  int64_t extra = 0;  // the family's biases and norms (family.h)
  for (const auto& [name, shape] : extra_layer_weights(*this)) extra += shape[0];
  return embedding + (tie_word_embeddings ? 0 : embedding) + projection_parameter_count() + norms +
         extra * num_hidden_layers;
}

}  // namespace mlxft
