// Phi-3 (Phi3ForCausalLM, model_type phi3: Phi-3-mini/medium, Phi-3.5-mini, Phi-4-mini): the Llama
// block with
// - q, k and v as one projection, self_attn.qkv_proj (rows q | k | v), and gate and up as one,
//   mlp.gate_up_proj (rows gate | up); no biases, SiLU. The model holds them fused (layer_projections(),
//   family.h), so LoRA adapts the fused modules under PEFT's names for Phi-3 (qkv_proj, o_proj,
//   gate_up_proj, down_proj) and fuse writes them back fused;
// - RoPE over the first int(head_dim * partial_rotary_factor) features of each head (Phi-4-mini 0.75),
//   with the "longrope" scaling of Phi-3.5 / Phi-4-mini (config_rope.h, rope.h);
// - sliding_window, when set, on every layer: transformers 5 masks all of Phi-3's layers with it
//   (Phi-3-mini-4k: 2047; the 128k models' 262144 never binds);
// - untied embeddings unless tie_word_embeddings says so (Phi-4-mini ties).
// pad_token_id is kept for the config.json it writes back (transformers' embedding needs it inside
// the vocabulary).
#include <cmath>

#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/family_keys.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {
namespace {

using nlohmann::json;
namespace fk = family_keys;

void read_phi3(const json& j, const std::string& source, ModelConfig& c) {
  fk::require_activation(j, source, "hidden_act", "silu");
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (fk::is_true(j, key)) throw fk::error(source, key, "biases in Phi-3's projections are not supported", "set it to false");
  }
  const int rotary = c.rotary_dim();
  if (rotary < 2 || rotary % 2 != 0) {
    throw fk::error(source, "partial_rotary_factor",
                    "rotates " + std::to_string(rotary) + " of head_dim " + std::to_string(c.head_dim) +
                        " features; RoPE needs an even, positive count");
  }
  const RopeScaling& r = c.rope_scaling;
  for (const auto& [name, factors] : {std::pair{"short_factor", &r.short_factor}, {"long_factor", &r.long_factor}}) {
    if (r.type == "longrope" && factors->size() != static_cast<size_t>(rotary / 2)) {
      throw fk::error(source, std::string("rope_scaling.") + name,
                      "has " + std::to_string(factors->size()) + " entries; the " + std::to_string(rotary) +
                          " rotated features of a head need " + std::to_string(rotary / 2),
                      "one factor per rotated frequency, as transformers' Phi3Config requires");
    }
  }
  c.sliding_window = 0;
  c.sliding_layers.clear();
  if (fk::present(j, "sliding_window")) {
    c.sliding_window = static_cast<int>(fk::positive_number(j, source, "sliding_window", 0));
    if (static_cast<double>(c.sliding_window) != j["sliding_window"].get<double>()) {
      throw fk::error(source, "sliding_window", "must be a whole number of positions, got " + json_brief(j["sliding_window"]));
    }
    c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), true);
  }
  c.pad_token_id = -1;
  if (fk::present(j, "pad_token_id") && j["pad_token_id"].is_number_integer() &&
      j["pad_token_id"].get<int64_t>() >= 0 && j["pad_token_id"].get<int64_t>() < c.vocab_size) {
    c.pad_token_id = j["pad_token_id"].get<int>();
  }
}

void write_phi3(const ModelConfig& c, json& j) {
  j["hidden_act"] = "silu";
  j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  if (c.rope_scaling.type == "longrope") {
    j["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
  }
  // Phi3Config's default pad id 32000 lies outside a smaller vocabulary, where transformers refuses it.
  j["pad_token_id"] = c.pad_token_id >= 0 ? c.pad_token_id : (c.vocab_size > 32000 ? 32000 : 0);
  j["resid_pdrop"] = 0.0;
  j["embd_pdrop"] = 0.0;
}

}  // namespace

const Family& phi3_family() {
  static const Family f = [] {
    Family r;
    r.model_type = "phi3", r.architecture = "Phi3ForCausalLM", r.gguf_architecture = "phi3";
    r.fused_projections = true, r.partial_longrope = true;
    r.read = read_phi3, r.write = write_phi3;
    return r;
  }();
  return f;
}

}  // namespace mlxft
