// Qwen2 / Qwen2.5 (Qwen2ForCausalLM): the Llama block with a bias on the q, k and v projections
// (not on o, not in the MLP). Small ones tie the embeddings (the common tie_word_embeddings key).
// Their configs carry sliding_window / max_window_layers but switch it off (use_sliding_window
// false); a config that switches it on is refused.
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/family_keys.h"

namespace mlxft {
namespace {

using nlohmann::json;

// No sliding window: use_sliding_window true, or a "sliding_attention" layer, is refused.
void refuse_sliding(const json& j, const std::string& source, ModelConfig& c) {
  if (family_keys::is_true(j, "use_sliding_window")) {
    throw family_keys::error(source, "use_sliding_window", "sliding-window attention is not supported for Qwen",
                             "set it to false (as every released Qwen2/2.5/3 config does)");
  }
  family_keys::read_layer_types(j, source, c);
  for (size_t i = 0; i < c.sliding_layers.size(); ++i) {
    if (c.sliding_layers[i]) {
      throw family_keys::error(source, "layer_types[" + std::to_string(i) + "]",
                               "sliding-window layers are not supported for Qwen", "use \"full_attention\"");
    }
  }
  c.sliding_layers.clear();
}

void read_qwen2(const json& j, const std::string& source, ModelConfig& c) {
  refuse_sliding(j, source, c);
  family_keys::require_activation(j, source, "hidden_act", "silu");
}

}  // namespace

void family_keys::write_qwen_common(const ModelConfig& c, json& j) {
  j["hidden_act"] = "silu";
  j["use_sliding_window"] = false;
  j["sliding_window"] = nullptr;
  j["max_window_layers"] = c.num_hidden_layers;
  if (c.form == ConfigForm::Transformers5) j["layer_types"] = std::vector<std::string>(c.num_hidden_layers, "full_attention");
}

void family_keys::read_qwen_common(const json& j, const std::string& source, ModelConfig& c) {
  refuse_sliding(j, source, c);
}

const Family& qwen2_family() {
  static const Family f = [] {
    Family r;
    r.model_type = "qwen2", r.architecture = "Qwen2ForCausalLM", r.gguf_architecture = "qwen2";
    r.qkv_bias = true;
    r.read = read_qwen2, r.write = family_keys::write_qwen_common;
    return r;
  }();
  return f;
}

}  // namespace mlxft
