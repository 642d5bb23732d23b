// Shared config.json key readers of the family files (see family_keys.h).
#include "mlxft/model/family_keys.h"

#include "mlxft/model/config.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft::family_keys {

using nlohmann::json;

Error error(const std::string& source, const std::string& key, const std::string& what, const std::string& hint) {
  return Error(ErrorKind::Config, source + ": " + key, what, hint);
}

bool present(const json& j, const std::string& key) {
  return j.contains(key) && !j[key].is_null();
}

bool is_true(const json& j, const std::string& key) {
  return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
}

void require_activation(const json& j, const std::string& source, const std::string& key,
                        const std::string& expected) {
  if (present(j, key) && j[key] != expected) {
    throw error(source, key, "activation " + json_brief(j[key]) + " is not supported for this model_type",
                "this family's models use " + expected);
  }
}

void read_layer_types(const json& j, const std::string& source, ModelConfig& c) {
  c.sliding_layers.clear();
  if (!present(j, "layer_types")) return;
  const json& types = j["layer_types"];
  if (!types.is_array() || types.size() != static_cast<size_t>(c.num_hidden_layers)) {
    throw error(source, "layer_types", "must list one type per layer (" + std::to_string(c.num_hidden_layers) + ")");
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] != "full_attention" && types[i] != "sliding_attention") {
      throw error(source, "layer_types[" + std::to_string(i) + "]",
                  "unknown layer type " + json_brief(types[i]), "use \"full_attention\" or \"sliding_attention\"");
    }
    c.sliding_layers.push_back(types[i] == "sliding_attention");
  }
}

double positive_number(const json& j, const std::string& source, const std::string& key, double fallback) {
  if (!present(j, key)) return fallback;
  if (!j[key].is_number() || !(j[key].get<double>() > 0.0) || !(j[key].get<double>() < 1e30)) {
    throw error(source, key, "must be a positive number, got " + json_brief(j[key]));
  }
  return j[key].get<double>();
}

}  // namespace mlxft::family_keys
