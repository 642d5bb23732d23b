// Quantized modules: the mlx-community config, quantizing and dequantizing (see quant.h).
#include "mlxft/model/quant.h"

#include <fmt/format.h>

#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

// The spec an mlx-community "quantization" entry gives; `key` names it in errors.
QuantSpec spec_of(const json& j, const QuantSpec& fallback, const std::string& file, const std::string& key) {
  if (!j.is_object()) {
    throw Error(ErrorKind::Model, file + ": " + key, "must be an object {\"group_size\", \"bits\"} or false");
  }
  const std::string mode = json_string(j, "mode", file + ": " + key, "affine");
  if (mode != "affine") {
    throw Error(ErrorKind::Model, file + ": " + key + ".mode",
                fmt::format("quantization mode '{}' is not supported", mode),
                "use an affine-quantized model (mlx_lm.convert -q without --q-mode)");
  }
  QuantSpec s = fallback;
  const int64_t bits = json_integer(j, "bits", file + ": " + key, s.bits);
  const int64_t group_size = json_integer(j, "group_size", file + ": " + key, s.group_size);
  s.bits = bits >= 0 && bits <= 64 ? static_cast<int>(bits) : -1;  // check_quant_spec names it
  s.group_size = group_size >= 0 && group_size <= 4096 ? static_cast<int>(group_size) : -1;
  check_quant_spec(s, file + ": " + key);
  return s;
}

}  // namespace

void check_quant_spec(const QuantSpec& s, const std::string& where) {
  const bool bits_ok = s.bits == 2 || s.bits == 3 || s.bits == 4 || s.bits == 5 || s.bits == 6 || s.bits == 8;
  const bool group_ok = s.group_size == 32 || s.group_size == 64 || s.group_size == 128;
  if (!bits_ok || !group_ok) {
    throw Error(ErrorKind::Model, where,
                fmt::format("unsupported quantization: {} bits, group size {}", s.bits, s.group_size),
                "bits 2, 3, 4, 5, 6 or 8; group size 32, 64 or 128");
  }
}

std::vector<std::string> quantizable_modules(const ModelConfig& c) {
  std::vector<std::string> m = {"model.embed_tokens"};
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const auto& [proj, shape] : layer_projections(c)) m.push_back(p + proj);
  }
  if (!c.tie_word_embeddings) m.emplace_back("lm_head");
  return m;
}

QuantMap mlx_quantization(const json& config_json, const ModelConfig& c,
                          const std::function<bool(const std::string&)>& has_scales,
                          const std::string& file) {
  const auto it = config_json.find("quantization");
  if (it == config_json.end()) return {};
  const QuantSpec fallback = spec_of(*it, QuantSpec{4, 64}, file, "quantization");
  QuantMap q;
  for (const std::string& module : quantizable_modules(c)) {
    const auto entry = it->find(module);
    if (entry == it->end()) {
      if (has_scales(module)) q[module] = fallback;
    } else if (!entry->is_boolean() || entry->get<bool>()) {
      q[module] = entry->is_boolean() ? fallback : spec_of(*entry, fallback, file, "quantization." + module);
    }
  }
  return q;
}

QuantMap quantize_weights(std::unordered_map<std::string, mx::array>& weights, const ModelConfig& c,
                          const QuantSpec& spec) {
  check_quant_spec(spec, "model.quantize");
  QuantMap done;
  std::vector<mx::array> all;
  for (const std::string& module : quantizable_modules(c)) {
    const auto it = weights.find(module + ".weight");
    if (it == weights.end() || it->second.dtype() == mx::uint32 || it->second.ndim() != 2 ||
        it->second.shape(1) % spec.group_size != 0) {
      continue;
    }
    auto parts = mx::quantize(it->second, spec.group_size, spec.bits);
    weights.insert_or_assign(module + ".weight", parts[0]);
    weights.insert_or_assign(module + ".scales", parts[1]);
    weights.insert_or_assign(module + ".biases", parts[2]);
    all.insert(all.end(), parts.begin(), parts.end());
    mx::eval(all);  // one module at a time: the float weight can go before the next is quantized
    all.clear();
    done[module] = spec;
  }
  return done;
}

mx::array dequantize_module(const std::unordered_map<std::string, mx::array>& weights,
                            const std::string& module, const QuantSpec& spec, mx::Dtype dtype) {
  const mx::array w =
      mx::dequantize(weights.at(module + ".weight"), mx::astype(weights.at(module + ".scales"), mx::float32),
                     mx::astype(weights.at(module + ".biases"), mx::float32), spec.group_size, spec.bits);
  return w.dtype() == dtype ? w : mx::astype(w, dtype);
}

json mlx_quantization_json(const QuantMap& q, const ModelConfig& c) {
  if (q.empty()) return json();
  const QuantSpec base = q.begin()->second;
  json j = {{"group_size", base.group_size}, {"bits", base.bits}, {"mode", "affine"}};
  for (const std::string& module : quantizable_modules(c)) {
    const auto it = q.find(module);
    if (it == q.end()) {
      j[module] = false;
    } else if (!(it->second == base)) {
      j[module] = {{"group_size", it->second.group_size}, {"bits", it->second.bits}};
    }
  }
  return j;
}

}  // namespace mlxft
