// RoPE and dtype keys of config.json in the classic and the transformers 5 form
// (see config_rope.h for the contract).
#include "mlxft/model/config_rope.h"

#include <cmath>

#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft::detail {
namespace {

using nlohmann::json;

Error rope_error(const std::string& source, const std::string& key, const std::string& what,
                 const std::string& hint = {}) {
  return Error(ErrorKind::Config, source + ": " + key, what, hint);
}

bool present(const json& j, const std::string& key) {
  return j.contains(key) && !j[key].is_null();
}

// A required positive number inside the scaling object `obj` (named `prefix` in errors).
double required_positive(const json& obj, const std::string& prefix, const std::string& key,
                         const std::string& source, const std::string& type) {
  const std::string name = prefix.empty() ? key : prefix + "." + key;
  if (!present(obj, key)) throw rope_error(source, name, "missing", "rope type '" + type + "' needs it");
  if (!obj[key].is_number() || !(obj[key].get<double>() > 0.0) || !(obj[key].get<double>() < 1e30)) {
    throw rope_error(source, name, "must be a positive number, got " + json_brief(obj[key]));
  }
  return obj[key].get<double>();
}

// partial_rotary_factor: in (0, 1], from `obj` (transformers 5's rope_parameters), else the top level
// (4.x configs: Phi-4-mini), else 1.
double partial_factor(const json* obj, const std::string& prefix, const json& top, const std::string& source) {
  const bool inner = obj && present(*obj, "partial_rotary_factor");
  if (!inner && !present(top, "partial_rotary_factor")) return 1.0;
  const json& v = inner ? (*obj)["partial_rotary_factor"] : top["partial_rotary_factor"];
  const std::string key = inner ? prefix + ".partial_rotary_factor" : "partial_rotary_factor";
  if (!v.is_number() || !(v.get<double>() > 0.0) || v.get<double>() > 1.0) {
    throw rope_error(source, key, "must be a number in (0, 1], got " + json_brief(v));
  }
  return v.get<double>();
}

// A longrope factor list (short_factor, long_factor): positive numbers (their count is checked by
// the Phi-3 family, which knows the rotated width).
std::vector<double> factor_list(const json& obj, const std::string& prefix, const std::string& key,
                                const std::string& source) {
  const std::string name = prefix + "." + key;
  if (!present(obj, key) || !obj[key].is_array() || obj[key].empty() || obj[key].size() > kMaxHeadDim) {
    throw rope_error(source, name, "must be a list of numbers, one per rotated frequency",
                     "rope type 'longrope' needs short_factor and long_factor");
  }
  std::vector<double> f;
  for (const json& v : obj[key]) {
    if (!v.is_number() || !(v.get<double>() > 0.0) || !(v.get<double>() < 1e30)) {
      throw rope_error(source, name, "must hold positive numbers, got " + json_brief(v));
    }
    f.push_back(v.get<double>());
  }
  return f;
}

// Phi-3's longrope, as transformers 5 reads it for Phi3Config: original_max_position_embeddings is
// the top-level key (4096, Phi3Config's default, when absent: it overrides the scaling's own), the
// factor s the scaling's "factor" or max_position_embeddings / original, the attention factor the
// scaling's, else sqrt(1 + ln(s) / ln(original)) when s > 1, else 1.
void read_longrope(const json& obj, const std::string& prefix, const json& top, const std::string& source,
                   RopeScaling& r) {
  r.short_factor = factor_list(obj, prefix, "short_factor", source);
  r.long_factor = factor_list(obj, prefix, "long_factor", source);
  const std::string orig_key = "original_max_position_embeddings";
  const double original = present(top, orig_key) ? required_positive(top, "", orig_key, source, r.type) : 4096.0;
  if (original > static_cast<double>(kMaxConfigValue) || original < 2.0 ||
      original != static_cast<double>(static_cast<int>(original))) {
    throw rope_error(source, orig_key, "must be an integer in [2, 2^24]");
  }
  r.original_max_position_embeddings = static_cast<int>(original);
  const double max_positions =
      present(top, "max_position_embeddings") ? required_positive(top, "", "max_position_embeddings", source, r.type)
                                              : 4096.0;
  const double s = present(obj, "factor") ? required_positive(obj, prefix, "factor", source, r.type)
                                          : max_positions / original;
  r.factor = s;
  r.attention_factor = present(obj, "attention_factor")
                           ? required_positive(obj, prefix, "attention_factor", source, r.type)
                       : s <= 1.0 ? 1.0
                                  : std::sqrt(1.0 + std::log(s) / std::log(original));
}

// The scaling described by `obj` (rope_parameters or rope_scaling), named `prefix` in errors.
// `phi3`: Phi-3's partial rotary factor and longrope type are allowed.
RopeScaling read_scaling(const json& obj, const std::string& prefix, const std::string& source,
                         const json* context, bool phi3 = false) {
  RopeScaling r;
  for (const auto& [key, value] : obj.items()) {
    if (value.is_object()) {
      throw rope_error(source, prefix + "." + key, "per-layer-type rope parameters are not supported",
                       "Llama/Mistral use one set of rope parameters");
    }
  }
  const char* type_key = present(obj, "rope_type") ? "rope_type" : "type";  // "type": older configs
  if (present(obj, type_key)) {
    if (!obj[type_key].is_string()) {
      throw rope_error(source, prefix + "." + type_key, "must be a string, got " + json_brief(obj[type_key]));
    }
    r.type = obj[type_key].get<std::string>();
  } else if (prefix == "rope_scaling") {
    throw rope_error(source, prefix + ".rope_type", "missing", "say \"default\", \"linear\" or \"llama3\"");
  }
  if (phi3 && r.type == "su") r.type = "longrope";  // Phi3Config renames the early name
  if (phi3 && (r.type == "default" || r.type == "longrope")) {
    r.partial_rotary_factor = partial_factor(&obj, prefix, *context, source);
    if (r.type == "longrope") read_longrope(obj, prefix, *context, source, r);
    return r;
  }
  if (phi3) {
    throw rope_error(source, prefix + "." + type_key, "rope type '" + r.type + "' is not supported for Phi-3",
                     "Phi-3 models use \"default\" or \"longrope\" (as transformers' Phi3Config requires)");
  }
  if (r.type != "default" && r.type != "linear" && r.type != "llama3") {
    throw rope_error(source, prefix + "." + type_key, "rope type '" + r.type + "' is not implemented",
                     "mlxft implements the rope types \"default\", \"linear\" and \"llama3\" (and "
                     "\"longrope\" for Phi-3)");
  }
  if (present(obj, "partial_rotary_factor") &&
      (!obj["partial_rotary_factor"].is_number() || obj["partial_rotary_factor"].get<double>() != 1.0)) {
    throw rope_error(
        source, prefix + ".partial_rotary_factor",
        "partial rotary embeddings (" + json_brief(obj["partial_rotary_factor"]) + ") are not supported",
        "mlxft rotates the whole head (factor 1.0)");
  }
  if (r.type == "default") return r;
  r.factor = required_positive(obj, prefix, "factor", source, r.type);
  if (r.type == "linear") return r;
  r.low_freq_factor = required_positive(obj, prefix, "low_freq_factor", source, r.type);
  r.high_freq_factor = required_positive(obj, prefix, "high_freq_factor", source, r.type);
  if (r.high_freq_factor <= r.low_freq_factor) {
    throw rope_error(source, prefix + ".high_freq_factor",
                     "must be greater than low_freq_factor (" + json_brief(obj["low_freq_factor"]) + ")");
  }
  // transformers: a top-level original_max_position_embeddings wins, then the scaling's, then
  // max_position_embeddings (standardize_rope_params).
  const json& top = *context;
  const std::string orig_key = "original_max_position_embeddings";
  const double original = present(top, orig_key) ? required_positive(top, "", orig_key, source, r.type)
                          : present(obj, orig_key) || !present(top, "max_position_embeddings")
                              ? required_positive(obj, prefix, orig_key, source, r.type)
                              : required_positive(top, "", "max_position_embeddings", source, r.type);
  if (original > static_cast<double>(kMaxConfigValue) ||
      original != static_cast<double>(static_cast<int>(original))) {
    throw rope_error(source, prefix + ".original_max_position_embeddings", "must be an integer of at most 2^24");
  }
  r.original_max_position_embeddings = static_cast<int>(original);
  return r;
}

float rope_theta(const json& holder, const std::string& key_name, const std::string& source) {
  const json& v = holder["rope_theta"];
  if (!v.is_number() || !(v.get<double>() > 0.0) || !(v.get<double>() < 1e30)) {
    throw rope_error(source, key_name, "must be a positive number, got " + json_brief(v));
  }
  return v.get<float>();
}

// transformers 5's Gemma 3 form: rope_parameters {"full_attention": {...}, "sliding_attention":
// {...}}; the full layers' parameters become rope_theta / rope_scaling, the sliding ones' base
// rope_local_theta (their type must be "default", as in every Gemma 3 config).
void read_per_layer_type(const json& rp, const json& j, const std::string& source, ModelConfig& c) {
  for (const char* type : {"full_attention", "sliding_attention"}) {
    if (!present(rp, type) || !rp[type].is_object()) {
      throw rope_error(source, std::string("rope_parameters.") + type, "missing or not an object",
                       "Gemma 3's rope_parameters has one object per layer type");
    }
  }
  const json& full = rp["full_attention"];
  const json& local = rp["sliding_attention"];
  if (present(full, "rope_theta")) c.rope_theta = rope_theta(full, "rope_parameters.full_attention.rope_theta", source);
  c.rope_scaling = read_scaling(full, "rope_parameters.full_attention", source, &j);
  if (present(local, "rope_theta"))
    c.rope_local_theta = rope_theta(local, "rope_parameters.sliding_attention.rope_theta", source);
  if (!(read_scaling(local, "rope_parameters.sliding_attention", source, &j) == RopeScaling{})) {
    throw rope_error(source, "rope_parameters.sliding_attention.rope_type", "must be \"default\"",
                     "mlxft scales the RoPE of the full-attention layers only");
  }
}

}  // namespace

void read_rope_and_dtype(const json& j, const std::string& source, ModelConfig& c, bool local_rope, bool phi3) {
  c.rope_theta = present(j, "rope_theta") ? rope_theta(j, "rope_theta", source) : 10000.0f;
  if (local_rope && present(j, "rope_local_base_freq")) {
    c.rope_local_theta = rope_theta(json{{"rope_theta", j["rope_local_base_freq"]}}, "rope_local_base_freq", source);
  }
  if (present(j, "rope_scaling")) {
    if (!j["rope_scaling"].is_object()) {
      throw rope_error(source, "rope_scaling", "must be an object or null, got " + json_brief(j["rope_scaling"]));
    }
    c.rope_scaling = read_scaling(j["rope_scaling"], "rope_scaling", source, &j, phi3);
  }
  const bool v5 = present(j, "rope_parameters");
  if (v5 && local_rope && j["rope_parameters"].is_object() && j["rope_parameters"].contains("full_attention")) {
    read_per_layer_type(j["rope_parameters"], j, source, c);
  } else if (v5) {
    const json& rp = j["rope_parameters"];
    if (!rp.is_object()) {
      throw rope_error(source, "rope_parameters", "must be an object, got " + json_brief(rp));
    }
    if (present(rp, "rope_theta")) {
      const float theta = rope_theta(rp, "rope_parameters.rope_theta", source);
      if (present(j, "rope_theta") && theta != c.rope_theta) {
        throw rope_error(source, "rope_parameters.rope_theta",
                         "disagrees with the top-level rope_theta " + json_brief(j["rope_theta"]),
                         "keep one of them");
      }
      c.rope_theta = theta;
    }
    const RopeScaling scaling = read_scaling(rp, "rope_parameters", source, &j, phi3);
    if (present(j, "rope_scaling") && !(scaling == c.rope_scaling)) {
      throw rope_error(source, "rope_scaling", "disagrees with rope_parameters", "keep one of them");
    }
    c.rope_scaling = scaling;
  }
  if (phi3 && !present(j, "rope_scaling") && !v5) c.rope_scaling.partial_rotary_factor = partial_factor(nullptr, "", j, source);
  const bool has_dtype = present(j, "dtype") && j["dtype"].is_string();
  if (has_dtype) {
    c.torch_dtype = j["dtype"].get<std::string>();
  } else if (present(j, "torch_dtype") && j["torch_dtype"].is_string()) {
    c.torch_dtype = j["torch_dtype"].get<std::string>();
  }
  c.form =
      (v5 || (has_dtype && !present(j, "torch_dtype"))) ? ConfigForm::Transformers5 : ConfigForm::Classic;
}

void write_rope_and_dtype(const ModelConfig& c, json& j, bool local_rope, bool phi3) {
  const RopeScaling& r = c.rope_scaling;
  json scaling = {{"rope_type", r.type}};
  if (r.type != "default" && r.type != "longrope") scaling["factor"] = r.factor;
  if (r.type == "longrope") {
    scaling["short_factor"] = r.short_factor;
    scaling["long_factor"] = r.long_factor;
    scaling["attention_factor"] = r.attention_factor;
  }
  if (phi3) j["partial_rotary_factor"] = r.partial_rotary_factor;
  if (phi3 && c.form == ConfigForm::Transformers5) scaling["partial_rotary_factor"] = r.partial_rotary_factor;
  if (r.type == "llama3") {
    scaling["low_freq_factor"] = r.low_freq_factor;
    scaling["high_freq_factor"] = r.high_freq_factor;
    scaling["original_max_position_embeddings"] = r.original_max_position_embeddings;
  }
  if (c.form == ConfigForm::Transformers5) {
    j.erase("rope_theta");
    j.erase("rope_scaling");
    j.erase("torch_dtype");
    scaling["rope_theta"] = c.rope_theta;
    j["rope_parameters"] = scaling;
    if (local_rope) {
      j["rope_parameters"] = {{"full_attention", scaling},
                              {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_local_theta}}}};
    }
    j["dtype"] = c.torch_dtype;
    return;
  }
  j["rope_theta"] = c.rope_theta;
  j["torch_dtype"] = c.torch_dtype;
  if (local_rope) j["rope_local_base_freq"] = c.rope_local_theta;
  if (r.type != "default") j["rope_scaling"] = scaling;
}

}  // namespace mlxft::detail
