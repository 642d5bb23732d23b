// ModelConfig from a GGUF file's llama.* metadata, and GGUF -> HF tensor names
// (see gguf_model.h for the contract). The keys are those llama.cpp's
// convert_hf_to_gguf.py writes for LlamaModel (gguf-py constants.py).
#include <cmath>
#include <regex>

#include "mlxft/model/gguf_model.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

Error key_error(const GgufFile& f, const std::string& key, const std::string& what,
                const std::string& hint = {}) {
  return Error(ErrorKind::Model, f.source + ": " + key, what,
               hint.empty() ? "llama.cpp's convert_hf_to_gguf.py writes it for Llama models" : hint);
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

RopeScaling rope_scaling(const GgufFile& f) {
  RopeScaling r;
  const std::string key = "llama.rope.scaling.type";
  if (!f.find(key)) return r;
  const std::string type = string_key(f, key);
  if (type == "none") return r;
  if (type != "linear") {
    throw key_error(f, key, "rope scaling '" + type + "' is not implemented",
                    "mlxft implements none and linear scaling (and llama3 from Hugging Face configs)");
  }
  r.type = "linear";
  r.factor = positive_float_key(f, "llama.rope.scaling.factor", std::nullopt);
  return r;
}

}  // namespace

ModelConfig gguf_model_config(const GgufFile& f) {
  const std::string arch = string_key(f, "general.architecture");
  if (arch != "llama") {
    throw key_error(f, "general.architecture", "architecture '" + arch + "' is not supported",
                    "mlxft reads GGUF architecture \"llama\" (Llama, Mistral, SmolLM2)");
  }
  ModelConfig c;
  c.model_type = "llama";
  c.form = ConfigForm::Classic;
  c.torch_dtype = "float32";
  // Bounded like config.json (check_config_bounds) before anything is sized from them.
  c.num_hidden_layers = static_cast<int>(int_key(f, "llama.block_count", std::nullopt, 1, kMaxLayers));
  c.hidden_size = static_cast<int>(int_key(f, "llama.embedding_length", std::nullopt, 1, kMaxWidth));
  c.intermediate_size = static_cast<int>(int_key(f, "llama.feed_forward_length", std::nullopt, 1, kMaxWidth));
  c.num_attention_heads =
      static_cast<int>(int_key(f, "llama.attention.head_count", std::nullopt, 1, kMaxHeads));
  c.num_key_value_heads =
      static_cast<int>(int_key(f, "llama.attention.head_count_kv", c.num_attention_heads, 1, kMaxHeads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw key_error(f, "llama.attention.head_count_kv",
                    std::to_string(c.num_key_value_heads) + " does not divide head_count " +
                        std::to_string(c.num_attention_heads));
  }
  const int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  c.head_dim = static_cast<int>(int_key(f, "llama.attention.key_length", default_head_dim, 1, kMaxHeadDim));
  if (int_key(f, "llama.attention.value_length", c.head_dim) != c.head_dim) {
    throw key_error(f, "llama.attention.value_length", "differs from key_length", "mlxft needs them equal");
  }
  if (c.head_dim % 2 != 0 ||
      (!f.find("llama.attention.key_length") && c.hidden_size % c.num_attention_heads)) {
    throw key_error(f, "llama.attention.key_length",
                    "head size " + std::to_string(c.head_dim) + " is not usable");
  }
  if (int_key(f, "llama.rope.dimension_count", c.head_dim) != c.head_dim) {
    throw key_error(f, "llama.rope.dimension_count", "partial rotary embeddings are not supported",
                    "mlxft rotates the whole head (dimension_count = head size)");
  }
  c.rope_theta = static_cast<float>(positive_float_key(f, "llama.rope.freq_base", 10000.0));
  c.rope_scaling = rope_scaling(f);
  c.rms_norm_eps =
      static_cast<float>(positive_float_key(f, "llama.attention.layer_norm_rms_epsilon", std::nullopt));
  c.max_position_embeddings = static_cast<int>(int_key(f, "llama.context_length", 2048, 1, kMaxConfigValue));
  c.tie_word_embeddings = f.tensor("output.weight") == nullptr;
  const GgufTensorInfo* embed = f.tensor("token_embd.weight");
  if (!embed || embed->shape.size() != 2) {
    throw Error(ErrorKind::Model, f.source + ": tensor 'token_embd.weight'", "missing or not 2-dimensional",
                "a llama GGUF has the token embedding [vocab, hidden]");
  }
  c.vocab_size = static_cast<int>(int_key(f, "llama.vocab_size", embed->shape[0], 1, kMaxVocab));
  c.bos_token_id = static_cast<int>(int_key(f, "tokenizer.ggml.bos_token_id", 1, 0, c.vocab_size - 1));
  c.eos_token_id = static_cast<int>(int_key(f, "tokenizer.ggml.eos_token_id", 2, 0, c.vocab_size - 1));
  check_config_bounds(c, f.source);
  return c;
}

std::string gguf_hf_name(const std::string& name) {
  static const std::map<std::string, std::string> top = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                         {"output_norm.weight", "model.norm.weight"},
                                                         {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> block = {
      {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}};
  if (const auto it = top.find(name); it != top.end()) return it->second;
  static const std::regex pattern(R"(blk\.(0|[1-9]\d{0,5})\.([a-z_]+)\.weight)");
  std::smatch m;
  if (!std::regex_match(name, m, pattern)) return {};
  const auto it = block.find(m[2].str());
  if (it == block.end()) return {};
  return "model.layers." + std::to_string(std::stoi(m[1].str())) + "." + it->second + ".weight";
}

}  // namespace mlxft
