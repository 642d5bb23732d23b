// Loading a llama GGUF into HF names and layout (see gguf_model.h for the contract).
#include "mlxft/model/gguf_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "mlxft/model/gguf_tensors.h"
#include "mlxft/model/rope.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

const char* kTypesHint =
    "mlxft reads GGUF tensors of type F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K "
    "and Q6_K (the IQ*, TQ* and FP4 types are not read); re-quantize with llama.cpp's llama-quantize "
    "--allow-requantize to one of them (e.g. Q4_K_M or Q8_0), or load the Hugging Face model";

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

Error tensor_error(const GgufFile& f, const std::string& name, const std::string& what,
                   const std::string& hint) {
  return Error(ErrorKind::Model, f.source + ": tensor '" + name + "'", what, hint);
}

}  // namespace

// Checks every tensor's name, type and shape against the config before MLX reads a byte.
void check_gguf_tensors(const GgufFile& f, const ModelConfig& c, bool types) {
  std::map<std::string, mx::Shape> expected;
  for (auto& [name, shape] : expected_weights(c)) expected.emplace(name, shape);
  std::set<std::string> found;
  for (const GgufTensorInfo& t : f.tensors) {
    if (t.name == "rope_freqs.weight") {  // Llama 3 RoPE factors: read by llama3_from_rope_freqs()
      if (t.type != static_cast<uint32_t>(GgmlType::F32) || t.shape != std::vector<int64_t>{c.head_dim / 2}) {
        throw tensor_error(f, t.name, "must be F32 of shape [" + std::to_string(c.head_dim / 2) + "]",
                           "llama.cpp's converter writes one factor per rotated pair");
      }
      continue;
    }
    if (t.name == "rope_factors_long.weight" || t.name == "rope_factors_short.weight") {  // Phi-3's longrope
      const int64_t n = c.rotary_dim() / 2;
      if (c.rope_scaling.type != "longrope" || t.type != static_cast<uint32_t>(GgmlType::F32) ||
          t.shape != std::vector<int64_t>{n}) {
        throw tensor_error(f, t.name, "must be F32 of shape [" + std::to_string(n) + "] in a phi3 model",
                           "llama.cpp's converter writes one longrope factor per rotated pair");
      }
      continue;
    }
    const std::string hf = gguf_hf_name(t.name, c);
    const auto it = expected.find(hf);
    if (it == expected.end()) {
      throw tensor_error(
          f, t.name, "is not a tensor of a " + std::to_string(c.num_hidden_layers) + "-layer " + c.model_type + " model",
          "mlxft reads token_embd, output_norm, output and blk.N.{attn_norm, attn_q, attn_k, attn_v, "
          "attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}");
    }
    if (types && !gguf_type_loadable(t.type)) {
      throw tensor_error(f, t.name,
                         "has type " + ggml_type_name(t.type) + ", which mlxft cannot load",
                         kTypesHint);
    }
    const std::vector<int64_t> want(it->second.begin(), it->second.end());
    if (t.shape != want) {
      throw tensor_error(
          f, t.name, "has shape " + shape_str(t.shape) + ", the llama.* metadata implies " + shape_str(want),
          "the file's metadata and tensors disagree; re-convert it");
    }
    if (t.shape.size() != 2 && (!ggml_block(t.type) || ggml_block(t.type)->elements != 1)) {
      throw tensor_error(f, t.name, "is a 1-D tensor of type " + ggml_type_name(t.type),
                         "norm weights must be F32, F16 or BF16");
    }
    found.insert(hf);
  }
  for (const auto& [name, shape] : expected) {
    if (!found.count(name)) {
      throw Error(ErrorKind::Model, f.source, "tensor for '" + name + "' is missing",
                  "a llama GGUF has every block's attention, MLP and norm weights");
    }
  }
}

namespace {

// Heads of a Q or K projection: q uses the query heads, k the key/value heads; 0 for other tensors.
int qk_heads(const std::string& hf, const ModelConfig& c) {
  if (hf.ends_with("self_attn.q_proj.weight")) return c.num_attention_heads;
  if (hf.ends_with("self_attn.k_proj.weight")) return c.num_key_value_heads;
  return 0;
}

mx::array reorder_rows(const mx::array& rows, int heads, bool to_hf) {
  const int R = rows.shape(0);
  const int half = R / heads / 2;
  const mx::Shape split = to_hf ? mx::Shape{heads, half, 2, -1} : mx::Shape{heads, 2, half, -1};
  return mx::reshape(mx::swapaxes(mx::reshape(rows, split), 1, 2), rows.shape());
}

// llama.cpp's converter turns Llama 3's rope_scaling into rope_freqs.weight: inverse frequency i is
// divided by factor i. Llama 3.1-3.3 all use low/high frequency factors 1/4 over an original context
// of 8192, and `factor` is the largest factor: accept the file when those parameters reproduce every
// factor, so the model runs (and exports) as the llama3 rope type transformers implements.
// The values of a small F32 tensor (its shape checked by check_gguf_tensors()).
std::vector<float> f32_values(const GgufFile& f, const GgufTensorInfo* t, size_t n, const std::filesystem::path& file) {
  std::vector<float> values(n);
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(t->offset));
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
  if (!in) throw tensor_error(f, t->name, "cannot be read", "the file changed while it was read");
  return values;
}

// Phi-3's longrope factors (rope_factors_short / _long, one per rotated pair); both must be there.
void read_longrope_factors(const GgufFile& f, ModelConfig& c, const std::filesystem::path& file) {
  const size_t n = static_cast<size_t>(c.rotary_dim() / 2);
  for (const auto& [name, out] : {std::pair{"rope_factors_short.weight", &c.rope_scaling.short_factor},
                                  {"rope_factors_long.weight", &c.rope_scaling.long_factor}}) {
    const GgufTensorInfo* t = f.tensor(name);
    if (!t) throw Error(ErrorKind::Model, f.source + ": tensor '" + name + "'", "missing", "longrope needs both factor tensors");
    out->clear();
    for (float v : f32_values(f, t, n, file)) {
      if (!(v > 0.0f) || !std::isfinite(v)) throw tensor_error(f, name, "holds a factor that is not positive", "re-convert the model");
      out->push_back(v);
    }
  }
}

RopeScaling llama3_from_rope_freqs(const GgufFile& f, const ModelConfig& c,
                                   const std::filesystem::path& file) {
  const GgufTensorInfo* t = f.tensor("rope_freqs.weight");
  const std::vector<float> factors = f32_values(f, t, static_cast<size_t>(c.head_dim / 2), file);
  ModelConfig llama3 = c;
  llama3.rope_scaling = RopeScaling{};
  llama3.rope_scaling.type = "llama3";
  llama3.rope_scaling.factor = *std::max_element(factors.begin(), factors.end());
  const std::vector<double> plain = rope_inverse_frequencies(c);
  const std::vector<double> scaled = rope_inverse_frequencies(llama3);
  for (size_t i = 0; i < factors.size(); ++i) {
    if (std::abs(plain[i] / scaled[i] - factors[i]) > 1e-4 * factors[i]) {
      throw tensor_error(f, t->name,
                         "factor " + std::to_string(i) + " = " + std::to_string(factors[i]) +
                             " is not what Llama 3's rope scaling (low/high frequency factors 1/4, original "
                             "context 8192) gives",
                         "load the Hugging Face model instead: its rope_scaling is read as written");
    }
  }
  return llama3.rope_scaling;
}

}  // namespace

mx::array unpermute_qk_rows(const mx::array& rows, int heads) {
  return reorder_rows(rows, heads, true);
}

mx::array permute_qk_rows(const mx::array& rows, int heads) {
  return reorder_rows(rows, heads, false);
}

GgufModel load_gguf_model(const std::filesystem::path& file) {
  GgufModel g;
  g.header = read_gguf(file);
  g.config = gguf_model_config(g.header);
  check_gguf_tensors(g.header, g.config);
  if (g.header.tensor("rope_freqs.weight"))
    g.config.rope_scaling = llama3_from_rope_freqs(g.header, g.config, file);
  if (g.config.rope_scaling.type == "longrope") read_longrope_factors(g.header, g.config, file);
  const GgufTensorReader reader(g.header, file);
  for (const GgufTensorInfo& t : g.header.tensors) {
    if (t.name == "rope_freqs.weight" || t.name.starts_with("rope_factors_")) continue;
    const std::string hf = gguf_hf_name(t.name, g.config);
    const int heads = gguf_permutes_qk(g.config) ? qk_heads(hf, g.config) : 0;
    auto fix = [&](const mx::array& a) { return heads ? unpermute_qk_rows(a, heads) : a; };
    GgufTensorArrays a = gguf_tensor_arrays(g.header, t, reader.bytes(t));  // one tensor's bytes at a time
    if (!a.spec) {
      const float shift = hf.ends_with("norm.weight") ? gguf_norm_shift(g.config) : 0.0f;  // Gemma: 1 + w
      g.weights.insert_or_assign(
          hf, shift != 0.0f ? mx::subtract(a.weight, mx::array(shift, a.weight.dtype())) : fix(a.weight));
      continue;
    }
    const std::string module = hf.substr(0, hf.size() - 7);  // minus ".weight"
    g.weights.insert_or_assign(module + ".weight", fix(a.weight));
    g.weights.insert_or_assign(module + ".scales", fix(*a.scales));
    g.weights.insert_or_assign(module + ".biases", fix(*a.biases));
    g.quantization[module] = *a.spec;
  }
  std::vector<mx::array> all;
  for (const auto& [name, w] : g.weights) all.push_back(w);
  mx::eval(all);
  return g;
}

Model gguf_float_model(const GgufModel& g, mx::Dtype dtype) {
  Model m;
  m.config = g.config;
  m.dtype = dtype;
  m.dir = g.header.source;
  for (const auto& [name, w] : g.weights) {
    if (name.ends_with(".scales") || name.ends_with(".biases")) continue;
    const std::string module = name.substr(0, name.size() - 7);
    const auto q = g.quantization.find(module);
    mx::array x = w;
    if (q != g.quantization.end()) {
      // In float32: MLX would otherwise compute scale * q + bias in the scales' float16.
      x = mx::dequantize(w, mx::astype(g.weights.at(module + ".scales"), mx::float32),
                         mx::astype(g.weights.at(module + ".biases"), mx::float32), q->second.group_size,
                         q->second.bits);
    }
    m.weights.insert_or_assign(name, x.dtype() == dtype ? x : mx::astype(x, dtype));
  }
  std::vector<mx::array> all;
  for (const auto& [name, w] : m.weights) all.push_back(w);
  mx::eval(all);
  return m;
}

}  // namespace mlxft
