// Qwen3 (Qwen3ForCausalLM): the Llama block with an RMSNorm over head_dim on each query and key
// head before RoPE (self_attn.q_norm / k_norm, the config's rms_norm_eps), no biases, and head_dim
// from the config (128 on every size, so q width may differ from hidden_size). attention_bias true
// and sliding windows are refused (no released Qwen3 sets them).
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/family_keys.h"

namespace mlxft {

namespace {

void read_qwen3(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  family_keys::read_qwen_common(j, source, c);
  family_keys::require_activation(j, source, "hidden_act", "silu");
  if (family_keys::is_true(j, "attention_bias")) {
    throw family_keys::error(source, "attention_bias", "biases in Qwen3's projections are not supported",
                             "set it to false (as every released Qwen3 config does)");
  }
}

void write_qwen3(const ModelConfig& c, nlohmann::json& j) {
  family_keys::write_qwen_common(c, j);
  j["attention_bias"] = false;
}

}  // namespace

const Family& qwen3_family() {
  static const Family f = [] {
    Family r;
    r.model_type = "qwen3", r.architecture = "Qwen3ForCausalLM", r.gguf_architecture = "qwen3";
    r.qk_norm = true;
    r.read = read_qwen3, r.write = write_qwen3;
    return r;
  }();
  return f;
}

}  // namespace mlxft
