// ModelConfig from a GGUF file's <arch>.* metadata, and GGUF -> HF tensor names
// (see gguf_model.h for the contract). The keys are those llama.cpp's
// convert_hf_to_gguf.py writes for its llama, qwen2, qwen3, gemma3 and phi3 models (gguf-py constants.py).
#include <cmath>
#include <regex>

#include "mlxft/model/family.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

Error key_error(const GgufFile& f, const std::string& key, const std::string& what,
                const std::string& hint = {}) {
  return Error(ErrorKind::Model, f.source + ": " + key, what,
               hint.empty() ? "llama.cpp's convert_hf_to_gguf.py writes it for every model" : hint);
}

// An integer KV (any GGUF integer type) in [lo, hi]; `fallback` when absent, or an error if none.
int64_t int_key(const GgufFile& f, const std::string& key, std::optional<int64_t> fallback, int64_t lo = 1,
                int64_t hi = 1LL << 30) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (fallback) return *fallback;
    throw key_error(f, key, "missing");
  }
  int64_t n = 0;
  if (const auto* u = std::get_if<uint64_t>(&v->scalar); u && v->type != GgufValueType::Array) {
    n = *u > static_cast<uint64_t>(hi) ? hi + 1 : static_cast<int64_t>(*u);
  } else if (const auto* i = std::get_if<int64_t>(&v->scalar); i && v->type != GgufValueType::Array) {
    n = *i;
  } else {
    throw key_error(f, key, std::string("must be an integer, is a ") + to_string(v->type));
  }
  if (n < lo || n > hi) {
    throw key_error(
        f, key,
        std::to_string(n) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return n;
}

double positive_float_key(const GgufFile& f, const std::string& key, std::optional<double> fallback) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (fallback) return *fallback;
    throw key_error(f, key, "missing");
  }
  const auto* d = std::get_if<double>(&v->scalar);
  if (!d || v->type == GgufValueType::Array) {
    throw key_error(f, key, std::string("must be a float, is a ") + to_string(v->type));
  }
  if (!(*d > 0.0) || !std::isfinite(*d)) throw key_error(f, key, "must be a positive number");
  return *d;
}

std::string string_key(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  const auto* s = v ? std::get_if<std::string>(&v->scalar) : nullptr;
  if (!s || v->type != GgufValueType::String) throw key_error(f, key, v ? "must be a string" : "missing");
  return *s;
}

RopeScaling rope_scaling(const GgufFile& f, const std::string& a) {
  RopeScaling r;
  const std::string key = a + "rope.scaling.type";
  if (!f.find(key)) return r;
  const std::string type = string_key(f, key);
  if (type == "none") return r;
  if (type != "linear") {
    throw key_error(f, key, "rope scaling '" + type + "' is not implemented",
                    "mlxft implements none and linear scaling (and llama3 from Hugging Face configs)");
  }
  r.type = "linear";
  r.factor = positive_float_key(f, a + "rope.scaling.factor", std::nullopt);
  return r;
}

// The family whose llama.cpp architecture `arch` is.
const Family& family_of_gguf(const GgufFile& f, const std::string& arch) {
  for (const char* type : {"llama", "qwen2", "qwen3", "gemma3_text", "phi3"}) {
    if (family_of(type).gguf_architecture == arch) return family_of(type);
  }
  throw key_error(f, "general.architecture", "architecture '" + arch + "' is not supported",
                  "mlxft reads GGUF architectures llama (Llama, Mistral, SmolLM2), qwen2, qwen3, gemma3 and phi3");
}

// Phi-3's keys as llama.cpp's converter writes them: rope.dimension_count (the rotated features of a
// head: partial_rotary_factor), attention.sliding_window (0: none; else every layer, as transformers
// applies it), and with longrope rope.scaling.original_context_length and rope.scaling.attn_factor
// (the factors themselves are the tensors rope_factors_short / rope_factors_long: gguf_model.cpp).
void read_phi3_keys(const GgufFile& f, const std::string& a, ModelConfig& c) {
  const int64_t rotary = int_key(f, a + "rope.dimension_count", c.head_dim, 2, c.head_dim);
  if (rotary % 2 != 0) throw key_error(f, a + "rope.dimension_count", "must be even");
  c.rope_scaling.partial_rotary_factor = static_cast<double>(rotary) / c.head_dim;
  c.sliding_window = static_cast<int>(int_key(f, a + "attention.sliding_window", 0, 0, kMaxConfigValue));
  c.sliding_layers.assign(c.sliding_window > 0 ? static_cast<size_t>(c.num_hidden_layers) : 0, true);
  if (!f.tensor("rope_factors_long.weight") && !f.tensor("rope_factors_short.weight")) return;
  RopeScaling& r = c.rope_scaling;
  r.type = "longrope";
  r.original_max_position_embeddings =
      static_cast<int>(int_key(f, a + "rope.scaling.original_context_length", std::nullopt, 2, kMaxConfigValue));
  r.factor = static_cast<double>(c.max_position_embeddings) / r.original_max_position_embeddings;
  const double computed = r.factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(r.factor) / std::log(r.original_max_position_embeddings));
  r.attention_factor = positive_float_key(f, a + "rope.scaling.attn_factor", computed);
}

// Gemma 3's keys as llama.cpp reads them: a sliding window (when given) over the layers of the
// sliding_window_pattern (an int, default 6: layer i slides unless (i + 1) % n == 0; or one bool a
// layer), rope.freq_base_swa (default 10000) for them, attention scale 1/sqrt(head_dim) (the 27B,
// 62 blocks: 1/sqrt(hidden / heads)), tied embeddings unless output.weight exists.
void read_gemma3_keys(const GgufFile& f, const std::string& a, ModelConfig& c) {
  c.sliding_window = static_cast<int>(int_key(f, a + "attention.sliding_window", 0, 0, kMaxConfigValue));
  c.sliding_layers.clear();
  if (c.sliding_window > 0) {
    const GgufValue* p = f.find(a + "attention.sliding_window_pattern");
    if (p && p->type == GgufValueType::Array) {
      if (p->array.size() != static_cast<size_t>(c.num_hidden_layers)) {
        throw key_error(f, a + "attention.sliding_window_pattern", "must hold one entry per block");
      }
      for (const auto& v : p->array) {  // gguf-py writes bools; llama.cpp also takes integers
        const auto* b = std::get_if<bool>(&v);
        const auto* u = std::get_if<uint64_t>(&v);
        c.sliding_layers.push_back((b && *b) || (u && *u != 0));
      }
    } else {
      const int64_t n = int_key(f, a + "attention.sliding_window_pattern", 6, 1, kMaxLayers);
      for (int i = 0; i < c.num_hidden_layers; ++i) c.sliding_layers.push_back((i + 1) % n != 0);
    }
  }
  c.rope_local_theta = static_cast<float>(positive_float_key(f, a + "rope.freq_base_swa", 10000.0));
  c.query_pre_attn_scalar = c.num_hidden_layers == 62 ? static_cast<float>(c.hidden_size / c.num_attention_heads)
                                                      : static_cast<float>(c.head_dim);
  if (f.find(a + "final_logit_softcapping")) {
    throw key_error(f, a + "final_logit_softcapping", "soft-capping is not supported",
                    "released Gemma 3 models have none");
  }
}

}  // namespace

ModelConfig gguf_model_config(const GgufFile& f) {
  const std::string arch = string_key(f, "general.architecture");
  const Family& family = family_of_gguf(f, arch);
  const std::string a = arch + ".";  // every key below is "<arch>.<key>"
  ModelConfig c;
  c.model_type = family.model_type;
  c.form = ConfigForm::Classic;
  c.torch_dtype = "float32";
  // Bounded like config.json (check_config_bounds) before anything is sized from them.
  c.num_hidden_layers = static_cast<int>(int_key(f, a + "block_count", std::nullopt, 1, kMaxLayers));
  c.hidden_size = static_cast<int>(int_key(f, a + "embedding_length", std::nullopt, 1, kMaxWidth));
  c.intermediate_size = static_cast<int>(int_key(f, a + "feed_forward_length", std::nullopt, 1, kMaxWidth));
  c.num_attention_heads = static_cast<int>(int_key(f, a + "attention.head_count", std::nullopt, 1, kMaxHeads));
  c.num_key_value_heads =
      static_cast<int>(int_key(f, a + "attention.head_count_kv", c.num_attention_heads, 1, kMaxHeads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw key_error(f, a + "attention.head_count_kv",
                    std::to_string(c.num_key_value_heads) + " does not divide head_count " +
                        std::to_string(c.num_attention_heads));
  }
  const int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  c.head_dim = static_cast<int>(int_key(f, a + "attention.key_length", default_head_dim, 1, kMaxHeadDim));
  if (int_key(f, a + "attention.value_length", c.head_dim) != c.head_dim) {
    throw key_error(f, a + "attention.value_length", "differs from key_length", "mlxft needs them equal");
  }
  if (c.head_dim % 2 != 0 || (!f.find(a + "attention.key_length") && c.hidden_size % c.num_attention_heads)) {
    throw key_error(f, a + "attention.key_length", "head size " + std::to_string(c.head_dim) + " is not usable");
  }
  if (!family.partial_longrope && int_key(f, a + "rope.dimension_count", c.head_dim) != c.head_dim) {
    throw key_error(f, a + "rope.dimension_count", "partial rotary embeddings are not supported",
                    "mlxft rotates the whole head (dimension_count = head size)");
  }
  c.rope_theta = static_cast<float>(positive_float_key(f, a + "rope.freq_base", 10000.0));
  c.rope_scaling = rope_scaling(f, a);
  c.rms_norm_eps = static_cast<float>(positive_float_key(f, a + "attention.layer_norm_rms_epsilon", std::nullopt));
  c.max_position_embeddings = static_cast<int>(int_key(f, a + "context_length", 2048, 1, kMaxConfigValue));
  c.tie_word_embeddings = f.tensor("output.weight") == nullptr;
  const GgufTensorInfo* embed = f.tensor("token_embd.weight");
  if (!embed || embed->shape.size() != 2) {
    throw Error(ErrorKind::Model, f.source + ": tensor 'token_embd.weight'", "missing or not 2-dimensional",
                "a GGUF model has the token embedding [vocab, hidden]");
  }
  c.vocab_size = static_cast<int>(int_key(f, a + "vocab_size", embed->shape[0], 1, kMaxVocab));
  c.bos_token_id = static_cast<int>(int_key(f, "tokenizer.ggml.bos_token_id", 1, 0, c.vocab_size - 1));
  c.eos_token_id = static_cast<int>(int_key(f, "tokenizer.ggml.eos_token_id", 2, 0, c.vocab_size - 1));
  if (family.local_rope) read_gemma3_keys(f, a, c);
  if (family.partial_longrope) read_phi3_keys(f, a, c);
  check_config_bounds(c, f.source);
  return c;
}

bool gguf_permutes_qk(const ModelConfig& c) {
  return family_of(c.model_type).gguf_architecture == "llama";
}

float gguf_norm_shift(const ModelConfig& c) {
  return family_of(c.model_type).norm_plus_one ? 1.0f : 0.0f;
}

namespace {

// llama.cpp's top-level and block tensor names (gguf-py constants.py) and the HF tensor or module
// each holds: the one table that reading (gguf_hf_name) and export (gguf_tensor_name) share.
const std::pair<const char*, const char*> kTopNames[] = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                          {"output_norm.weight", "model.norm.weight"},
                                                          {"output.weight", "lm_head.weight"}};
const std::pair<const char*, const char*> kBlockNames[] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},       {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"}, {"post_attention_norm", "post_attention_layernorm"},
    {"post_ffw_norm", "post_feedforward_layernorm"}, {"attn_qkv", "self_attn.qkv_proj"}};

// The HF module of llama.cpp's block tensor `gguf` in a model of family `f`; "" when it has none.
// ffn_norm is the MLP's input norm, which Gemma calls pre_feedforward_layernorm (its
// post_attention_layernorm is post_attention_norm, a tensor only the sandwich-norm families have);
// Phi-3's attn_qkv and ffn_up hold its fused q|k|v and gate|up.
std::string block_hf_module(const std::string& gguf, const Family& f) {
  if (gguf == "ffn_norm" && f.sandwich_norms) return "pre_feedforward_layernorm";
  if ((gguf == "post_attention_norm" || gguf == "post_ffw_norm") && !f.sandwich_norms) return {};
  if (gguf == "ffn_up" && f.fused_projections) return "mlp.gate_up_proj";  // Phi-3: gate | up
  if (gguf == "attn_qkv" && !f.fused_projections) return {};
  for (const auto& [g, hf] : kBlockNames) {
    if (gguf == g) return hf;
  }
  return {};
}

}  // namespace

std::string gguf_hf_name(const std::string& name, const ModelConfig& c) {
  for (const auto& [g, hf] : kTopNames) {
    if (name == g) return hf;
  }
  static const std::regex pattern(R"(blk\.(0|[1-9]\d{0,5})\.([a-z_]+)\.(weight|bias))");
  std::smatch m;
  if (!std::regex_match(name, m, pattern)) return {};
  const std::string hf = block_hf_module(m[2].str(), family_of(c.model_type));
  if (hf.empty()) return {};
  return "model.layers." + std::to_string(std::stoi(m[1].str())) + "." + hf + "." + m[3].str();
}

std::string gguf_tensor_name(const std::string& hf, const ModelConfig& c) {
  for (const auto& [g, h] : kTopNames) {
    if (hf == h) return g;
  }
  static const std::regex pattern(R"(model\.layers\.(\d+)\.([a-z_.]+)\.(weight|bias))");
  std::smatch m;
  if (!std::regex_match(hf, m, pattern)) return {};
  const Family& f = family_of(c.model_type);
  for (const auto& [g, h] : kBlockNames) {
    if (block_hf_module(g, f) == m[2].str()) return "blk." + m[1].str() + "." + g + "." + m[3].str();
  }
  return {};
}

}  // namespace mlxft
