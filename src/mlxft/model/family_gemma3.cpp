// Gemma 3 text (Gemma3ForCausalLM, model_type gemma3_text): the Llama block with
// - embeddings times sqrt(hidden_size) (the factor rounded to the embedding's dtype),
// - RMSNorm scaling by (1 + w), and four norms a layer: input_layernorm before attention,
//   post_attention_layernorm on its output, pre_ and post_feedforward_layernorm around the MLP,
// - q/k RMSNorm over head_dim before RoPE, head_dim from the config,
// - a GELU-tanh gated MLP (hidden_activation gelu_pytorch_tanh),
// - attention scaled by query_pre_attn_scalar^-0.5,
// - interleaved sliding-window and full layers (layer_types, or the older sliding_window_pattern:
//   layer i slides unless (i + 1) % pattern == 0), the sliding ones with their own RoPE base
//   (rope_local_base_freq, 10000 by default),
// - tied embeddings by default (a config without tie_word_embeddings ties, as transformers does).
// transformers 5's Gemma 3 does not apply attn_logit_softcapping (it reads it but never passes it
// to the attention), and final_logit_softcapping is null on every released Gemma 3: mlxft refuses a
// config that sets either rather than compute something the reference does not.
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/family_keys.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {
namespace {

using nlohmann::json;
namespace fk = family_keys;

void read_sliding(const json& j, const std::string& source, ModelConfig& c) {
  c.sliding_window = static_cast<int>(fk::positive_number(j, source, "sliding_window", 4096));
  fk::read_layer_types(j, source, c);
  if (!c.sliding_layers.empty()) return;
  // transformers reads sliding_window_pattern only (the "_sliding_window_pattern" it writes is not read).
  const int pattern = static_cast<int>(fk::positive_number(j, source, "sliding_window_pattern", 6));
  for (int i = 0; i < c.num_hidden_layers; ++i) c.sliding_layers.push_back((i + 1) % pattern != 0);
}

void read_gemma3(const json& j, const std::string& source, ModelConfig& c) {
  fk::require_activation(j, source, "hidden_activation", "gelu_pytorch_tanh");
  fk::require_activation(j, source, "hidden_act", "gelu_pytorch_tanh");
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"}) {
    if (fk::present(j, key)) {
      throw fk::error(source, key, "soft-capping is not supported for Gemma 3 (" + json_brief(j[key]) + ")",
                      "released Gemma 3 configs set it to null; transformers' Gemma 3 does not apply "
                      "attn_logit_softcapping either");
    }
  }
  for (const char* key : {"attention_bias", "use_bidirectional_attention"}) {
    if (fk::is_true(j, key)) throw fk::error(source, key, "is not supported", "set it to false");
  }
  c.query_pre_attn_scalar = static_cast<float>(fk::positive_number(j, source, "query_pre_attn_scalar", 256));
  if (!fk::present(j, "tie_word_embeddings")) c.tie_word_embeddings = true;
  read_sliding(j, source, c);
}

void write_gemma3(const ModelConfig& c, json& j) {
  j["hidden_activation"] = "gelu_pytorch_tanh";
  j["query_pre_attn_scalar"] = c.query_pre_attn_scalar;
  j["sliding_window"] = c.sliding_window;
  std::vector<std::string> types;
  for (int i = 0; i < c.num_hidden_layers; ++i) types.push_back(c.is_sliding(i) ? "sliding_attention" : "full_attention");
  j["layer_types"] = types;
  j["attn_logit_softcapping"] = nullptr;
  j["final_logit_softcapping"] = nullptr;
  j["attention_bias"] = false;
  j["pad_token_id"] = 0;
}

}  // namespace

const Family& gemma3_family() {
  static const Family f = [] {
    Family r;
    r.model_type = "gemma3_text", r.architecture = "Gemma3ForCausalLM", r.gguf_architecture = "gemma3";
    r.qk_norm = true, r.norm_plus_one = true, r.embed_scale = true, r.sandwich_norms = true;
    r.activation = MlpActivation::gelu_tanh, r.local_rope = true;
    r.read = read_gemma3, r.write = write_gemma3;
    return r;
  }();
  return f;
}

}  // namespace mlxft
