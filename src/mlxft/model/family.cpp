// The family registry and the Llama/Mistral rows (see family.h); other families have their own file.
#include "mlxft/model/family.h"

#include <fmt/format.h>

#include "mlxft/model/config.h"
#include "mlxft/model/family_keys.h"
#include "mlxft/model/lora.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {
namespace {

using nlohmann::json;

// Llama and Mistral: no biases, full causal attention (a window no shorter than the context is
// full attention), SwiGLU with silu.
void read_llama(const json& j, const std::string& source, ModelConfig& c) {
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (family_keys::is_true(j, key)) {
      throw family_keys::error(source, key, "biases in the projections are not supported", "set it to false");
    }
  }
  if (family_keys::present(j, "sliding_window")) {
    const json& sw = j["sliding_window"];
    if (!sw.is_number_integer() || sw.get<int64_t>() < c.max_position_embeddings) {
      throw family_keys::error(source, "sliding_window",
                               "sliding-window attention (" + json_brief(sw) + " < max_position_embeddings " +
                                   std::to_string(c.max_position_embeddings) + ") is not supported",
                               "set sliding_window to null (full causal attention)");
    }
  }
  family_keys::require_activation(j, source, "hidden_act", "silu");
}

void write_mistral(const ModelConfig&, json& j) {
  j["hidden_act"] = "silu";
  j["sliding_window"] = nullptr;
}

void write_llama(const ModelConfig&, json& j) {
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["pretraining_tp"] = 1;
  j["rope_scaling"] = nullptr;
}

const Family& llama_family() {
  static const Family f = [] {
    Family r;
    r.model_type = "llama", r.architecture = "LlamaForCausalLM", r.gguf_architecture = "llama";
    r.read = read_llama, r.write = write_llama;
    return r;
  }();
  return f;
}

const Family& mistral_family() {
  static const Family f = [] {
    Family r = llama_family();
    r.model_type = "mistral", r.architecture = "MistralForCausalLM";
    r.write = write_mistral;
    return r;
  }();
  return f;
}

const std::vector<const Family*>& families() {
  static const std::vector<const Family*> all = {&llama_family(), &mistral_family(), &qwen2_family(),
                                                 &qwen3_family(), &gemma3_family(), &phi3_family()};
  return all;
}

}  // namespace

std::string supported_model_types() {
  std::string s;
  for (const Family* f : families()) s += (s.empty() ? "" : ", ") + f->model_type;
  return s;
}

const Family& family_of(const std::string& model_type, const std::string& source) {
  for (const Family* f : families()) {
    if (f->model_type == model_type) return *f;
  }
  throw family_keys::error(source, "model_type", "unsupported model_type '" + model_type + "'",
                           "mlxft supports " + supported_model_types());
}

std::vector<std::pair<std::string, mlx::core::Shape>> extra_layer_weights(const ModelConfig& c) {
  const Family& f = family_of(c.model_type);
  const int h = c.hidden_size, d = c.head_dim;
  std::vector<std::pair<std::string, mlx::core::Shape>> w;
  if (f.qkv_bias) {
    w.emplace_back("self_attn.q_proj.bias", mlx::core::Shape{c.num_attention_heads * d});
    w.emplace_back("self_attn.k_proj.bias", mlx::core::Shape{c.num_key_value_heads * d});
    w.emplace_back("self_attn.v_proj.bias", mlx::core::Shape{c.num_key_value_heads * d});
  }
  if (f.qk_norm) {
    w.emplace_back("self_attn.q_norm.weight", mlx::core::Shape{d});
    w.emplace_back("self_attn.k_norm.weight", mlx::core::Shape{d});
  }
  if (f.sandwich_norms) {
    w.emplace_back("pre_feedforward_layernorm.weight", mlx::core::Shape{h});
    w.emplace_back("post_feedforward_layernorm.weight", mlx::core::Shape{h});
  }
  return w;
}

std::vector<std::pair<std::string, mlx::core::Shape>> layer_projections(const ModelConfig& c) {
  const bool fused = family_of(c.model_type).fused_projections;
  std::vector<std::pair<std::string, mlx::core::Shape>> p;
  for (const std::string& target : lora_target_names()) {
    const bool fused_target = target == "qkv_proj" || target == "gate_up_proj";
    const bool separate = target == "q_proj" || target == "k_proj" || target == "v_proj" ||
                          target == "gate_proj" || target == "up_proj";
    if ((fused && separate) || (!fused && fused_target)) continue;
    const auto [in, out] = lora_projection_shape(c, target);
    const std::string module = lora_module_path(0, target);  // "model.layers.0.self_attn.q_proj"
    p.emplace_back(module.substr(std::string("model.layers.0.").size()), mlx::core::Shape{out, in});
  }
  return p;
}

std::vector<std::string> family_lora_targets(const ModelConfig& c) {
  std::vector<std::string> names;
  for (const auto& [module, shape] : layer_projections(c)) names.push_back(module.substr(module.find('.') + 1));
  return names;
}

}  // namespace mlxft
