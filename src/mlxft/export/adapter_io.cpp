#include "mlxft/export/adapter_io.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <unordered_map>

#include "mlxft/export/staged_files.h"
#include "mlxft/model/config.h"
#include "mlxft/model/safetensors.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kPeftWeights = "adapter_model.safetensors";
constexpr const char* kMlxWeights = "adapters.safetensors";
constexpr const char* kPeftPrefix = "base_model.model.";

// A module path split into its layer and target ("model.layers.3.mlp.down_proj" -> 3, down_proj).
struct ModulePath {
  int layer;
  std::string target;
};

ModulePath parse_module_path(const std::string& path) {
  static const std::regex re(R"(model\.layers\.(\d{1,6})\.(?:self_attn|mlp)\.(\w+))");
  std::smatch m;
  if (!std::regex_match(path, m, re)) throw std::logic_error("not a LoRA module path: " + path);
  return {std::stoi(m[1].str()), m[2].str()};
}

// "self_attn.q_proj" / "mlp.down_proj": the module path below a layer, as mlx-lm's keys name it.
std::string layer_key(const std::string& target) {
  const std::string path = lora_module_path(0, target);
  return path.substr(std::string("model.layers.0.").size());
}

// Targets in lora_target_names() order and sorted layers, as adapted in `adapters`.
std::vector<std::string> adapted_targets(const LoraAdapters& adapters) {
  std::set<std::string> present;
  for (const auto& [path, pair] : adapters.modules) present.insert(parse_module_path(path).target);
  std::vector<std::string> targets;
  for (const auto& t : lora_target_names()) {
    if (present.count(t) != 0) targets.push_back(t);
  }
  return targets;
}

std::vector<int> adapted_layers(const LoraAdapters& adapters) {
  std::set<int> layers;
  for (const auto& [path, pair] : adapters.modules) layers.insert(parse_module_path(path).layer);
  return {layers.begin(), layers.end()};
}

// A float that is a whole number is written as an integer (lora_alpha 16, not 16.0).
json number(float v) {
  if (v == std::nearbyint(v) && std::fabs(v) < 1e9f) return static_cast<int64_t>(v);
  return v;
}

void check_saveable(const LoraAdapters& adapters, const fs::path& dir) {
  if (adapters.modules.empty()) {
    throw Error(ErrorKind::Model, dir.string(), "the adapter has no modules to save");
  }
}

void write_json(const fs::path& path, const json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  out.close();
  if (!out)
    throw Error(ErrorKind::Io, path.string(), "cannot write the file", "check free space and permissions");
}

void write_safetensors(const fs::path& path, const std::unordered_map<std::string, mx::array>& tensors) {
  try {
    mx::save_safetensors(path.string(), tensors, {{"format", "pt"}});
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Io, path.string(), std::string("cannot write the file: ") + e.what(),
                "check free space and permissions");
  }
}

// ---- loading ----

[[noreturn]] void fail(const fs::path& file, const std::string& what, const std::string& hint = {}) {
  throw Error(ErrorKind::Model, file.string(), what, hint);
}

json read_config(const fs::path& file) {
  std::ifstream in(file);
  if (!in) fail(file, "cannot open the adapter config", "an adapter directory needs adapter_config.json");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(file, std::string("not valid JSON: ") + e.what());
  }
}

// The value of `key` in config `j`, required (unless `fallback` is given) and of type T.
template <typename T>
T config_value(const json& j, const fs::path& file, const std::string& key, std::optional<T> fallback = {}) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    fail(file, "key '" + key + "' is missing");
  }
  const bool ok = std::is_same_v<T, bool>          ? it->is_boolean()
                  : std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_integral_v<T>          ? it->is_number_integer()
                                                   : it->is_number();
  if (!ok) fail(file, "key '" + key + "' has the wrong type: " + it->dump());
  return it->get<T>();
}

void require_unsupported_absent(const json& j, const fs::path& file, const std::string& key,
                                const std::string& why) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()) ||
      (it->is_object() && it->empty()) || (it->is_string() && it->get<std::string>() == "none")) {
    return;
  }
  fail(file, "key '" + key + "' = " + it->dump() + " is not supported: " + why,
       "mlxft reads plain LoRA adapters (one rank for every module, no bias, no DoRA)");
}

std::unordered_map<std::string, mx::array> read_tensors(const fs::path& file) {
  if (!fs::is_regular_file(file)) fail(file, "the adapter weights file is missing");
  try {
    auto tensors = load_safetensors(file);  // checks the header first (Model errors)
    std::vector<mx::array> all;
    for (auto& [name, t] : tensors) {
      t = mx::astype(t, mx::float32);
      all.push_back(t);
    }
    mx::eval(all);
    return tensors;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(file, std::string("cannot read the safetensors file: ") + e.what(),
         "the file is damaged or not a safetensors file; export the adapter again");
  }
}

// One adapted module as read from a file, in PEFT orientation.
struct ReadModule {
  std::optional<mx::array> a;  // [rank, in]
  std::optional<mx::array> b;  // [out, rank]
};

// Splits `key` into module path and part with `re` (groups: layer, target, part), or fails.
std::pair<std::string, std::string> split_key(const std::string& key, const std::regex& re,
                                              const fs::path& file, const std::string& expected) {
  std::smatch m;
  if (std::regex_match(key, m, re)) {
    const int layer = std::stoi(m[1].str());
    const auto& names = lora_target_names();
    if (std::find(names.begin(), names.end(), m[3].str()) != names.end()) {
      const std::string path = lora_module_path(layer, m[3].str());
      if (path == "model.layers." + m[1].str() + "." + m[2].str() + "." + m[3].str())
        return {path, m[4].str()};
    }
  }
  fail(file, "unexpected tensor '" + key + "'",
       "expected LoRA tensors named like '" + expected + "' on q/k/v/o_proj or gate/up/down_proj");
}

// The shape as the file stores it: `transposed` when the file holds the transpose of `a`.
std::string shape_string(const mx::array& a, bool transposed) {
  auto shape = a.shape();
  if (transposed) std::reverse(shape.begin(), shape.end());
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Checks every module has both halves of rank `rank` with consistent shapes per target, and builds
// the adapters. `name_of(path, part)` gives the file's key for error messages; `transposed` says
// the file stores A^T and B^T.
template <typename NameOf>
LoraAdapters assemble(std::map<std::string, ReadModule>& read, LoraConfig config, const fs::path& file,
                      bool transposed, NameOf name_of) {
  if (read.empty()) fail(file, "the file holds no LoRA tensors");
  LoraAdapters adapters;
  std::map<std::string, std::pair<int, int>> target_shape;  // target -> (in, out)
  for (auto& [path, m] : read) {
    if (!m.a) fail(file, "tensor '" + name_of(path, 'a') + "' is missing (its pair is present)");
    if (!m.b) fail(file, "tensor '" + name_of(path, 'b') + "' is missing (its pair is present)");
    if (m.a->ndim() != 2 || m.a->shape(0) != config.rank) {
      fail(file, "tensor '" + name_of(path, 'a') + "' has shape " + shape_string(*m.a, transposed) +
                     " for rank " + std::to_string(config.rank));
    }
    if (m.b->ndim() != 2 || m.b->shape(1) != config.rank) {
      fail(file, "tensor '" + name_of(path, 'b') + "' has shape " + shape_string(*m.b, transposed) +
                     " for rank " + std::to_string(config.rank));
    }
    const std::pair<int, int> in_out{m.a->shape(1), m.b->shape(0)};
    const auto target = parse_module_path(path).target;
    const auto [it, inserted] = target_shape.emplace(target, in_out);
    if (!inserted && it->second != in_out) {
      fail(file, "tensors of '" + path + "' have (in, out) = (" + std::to_string(in_out.first) + ", " +
                     std::to_string(in_out.second) + ") but other " + target + " modules have (" +
                     std::to_string(it->second.first) + ", " + std::to_string(it->second.second) + ")");
    }
    adapters.modules.emplace(path, LoraPair{*m.a, *m.b});
  }
  config.targets = adapted_targets(adapters);
  config.layers = adapted_layers(adapters);
  adapters.config = config;
  return adapters;
}

LoraAdapters load_peft(const fs::path& dir) {
  const fs::path config_file = dir / kConfigFile;
  const fs::path weights = dir / kPeftWeights;
  const json j = read_config(config_file);
  if (config_value<std::string>(j, config_file, "peft_type") != "LORA") {
    fail(config_file, "peft_type is '" + j["peft_type"].get<std::string>() + "', not LORA");
  }
  require_unsupported_absent(j, config_file, "use_dora", "DoRA");
  require_unsupported_absent(j, config_file, "bias", "trained biases");
  require_unsupported_absent(j, config_file, "fan_in_fan_out", "transposed (Conv1D) weights");
  require_unsupported_absent(j, config_file, "rank_pattern", "per-module ranks");
  require_unsupported_absent(j, config_file, "alpha_pattern", "per-module alphas");

  LoraConfig config;
  config.rank = config_value<int>(j, config_file, "r");
  config.alpha = config_value<float>(j, config_file, "lora_alpha");
  config.dropout = config_value<float>(j, config_file, "lora_dropout", 0.0f);
  config.use_rslora = config_value<bool>(j, config_file, "use_rslora", false);
  if (config.rank < 1) fail(config_file, "r must be at least 1, got " + std::to_string(config.rank));

  static const std::regex re(
      R"(base_model\.model\.model\.layers\.(\d{1,6})\.(\w+)\.(\w+)\.lora_(A|B)\.weight)");
  std::map<std::string, ReadModule> read;
  for (auto& [key, tensor] : read_tensors(weights)) {
    const auto [path, part] =
        split_key(key, re, weights, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    (part == "A" ? read[path].a : read[path].b) = tensor;
  }
  return assemble(read, config, weights, false, [](const std::string& path, char part) {
    return kPeftPrefix + path + (part == 'a' ? ".lora_A.weight" : ".lora_B.weight");
  });
}

LoraAdapters load_mlx(const fs::path& dir) {
  const fs::path config_file = dir / kConfigFile;
  const fs::path weights = dir / kMlxWeights;
  const json j = read_config(config_file);
  const auto type = config_value<std::string>(j, config_file, "fine_tune_type", std::string("lora"));
  if (type != "lora") {
    fail(config_file, "fine_tune_type is '" + type + "'; only LoRA adapters are supported");
  }
  const auto params_it = j.find("lora_parameters");
  if (params_it == j.end() || !params_it->is_object()) fail(config_file, "key 'lora_parameters' is missing");
  const json& params = *params_it;

  LoraConfig config;
  config.rank = config_value<int>(params, config_file, "rank");
  if (config.rank < 1)
    fail(config_file, "lora_parameters.rank must be at least 1, got " + std::to_string(config.rank));
  // mlx-lm stores the scale itself; alpha = scale * rank gives the same scale back.
  config.alpha = config_value<float>(params, config_file, "scale") * static_cast<float>(config.rank);
  config.dropout = config_value<float>(params, config_file, "dropout", 0.0f);

  static const std::regex re(R"(model\.layers\.(\d{1,6})\.(\w+)\.(\w+)\.lora_(a|b))");
  std::map<std::string, ReadModule> read;
  for (auto& [key, tensor] : read_tensors(weights)) {
    const auto [path, part] = split_key(key, re, weights, "model.layers.0.self_attn.q_proj.lora_a");
    if (tensor.ndim() == 2) tensor = mx::transpose(tensor);  // mlx-lm stores A^T and B^T
    (part == "a" ? read[path].a : read[path].b) = tensor;
  }
  auto adapters = assemble(read, config, weights, true, [](const std::string& path, char part) {
    return path + (part == 'a' ? ".lora_a" : ".lora_b");
  });
  std::vector<mx::array> flat = adapters.flatten();
  for (auto& a : flat) a = mx::contiguous(a);
  mx::eval(flat);
  adapters.assign(flat);
  return adapters;
}

}  // namespace

void save_adapter_peft(const LoraAdapters& adapters, const fs::path& dir, const std::string& base_model) {
  check_saveable(adapters, dir);
  std::unordered_map<std::string, mx::array> tensors;
  for (const auto& [path, pair] : adapters.modules) {
    tensors.emplace(kPeftPrefix + path + ".lora_A.weight", mx::astype(pair.a, mx::float32));
    tensors.emplace(kPeftPrefix + path + ".lora_B.weight", mx::astype(pair.b, mx::float32));
  }
  const LoraConfig& c = adapters.config;
  json config = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model},
      {"r", c.rank},
      {"lora_alpha", number(c.alpha)},
      {"lora_dropout", c.dropout},
      {"target_modules", adapted_targets(adapters)},
      {"layers_to_transform", c.layers.empty() ? json(nullptr) : json(adapted_layers(adapters))},
      {"layers_pattern", nullptr},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"use_rslora", c.use_rslora},
      {"use_dora", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"rank_pattern", json::object()},
      {"alpha_pattern", json::object()},
      {"layer_replication", nullptr},
      {"revision", nullptr},
  };
  StagedFiles files;
  write_safetensors(files.stage(dir / kPeftWeights), tensors);
  write_json(files.stage(dir / kConfigFile), config);
  files.commit();
}

void save_adapter_mlx(const LoraAdapters& adapters, const fs::path& dir, int model_layers) {
  check_saveable(adapters, dir);
  const auto layers = adapted_layers(adapters);
  const auto targets = adapted_targets(adapters);
  if (layers.back() >= model_layers) {
    throw Error(ErrorKind::Model, dir.string(),
                "the adapter has layer " + std::to_string(layers.back()) + " but the model has " +
                    std::to_string(model_layers) + " layers");
  }
  // mlx-lm wraps `keys` in the last num_layers layers: from the lowest adapted layer to the end.
  const int num_layers = model_layers - layers.front();
  if (adapters.modules.size() != static_cast<size_t>(num_layers) * targets.size()) {
    spdlog::warn(
        "{}: mlx-lm attaches adapters to every key in the last {} layers (num_layers), but this adapter "
        "covers only layers {} of {} with {} of them; mlx-lm gives the others zero B, so outputs are "
        "the same, but training resumed in mlx-lm would train them too",
        dir.string(), num_layers, json(layers).dump(), model_layers, json(targets).dump());
  }
  std::unordered_map<std::string, mx::array> tensors;
  for (const auto& [path, pair] : adapters.modules) {
    tensors.emplace(path + ".lora_a", mx::contiguous(mx::transpose(mx::astype(pair.a, mx::float32))));
    tensors.emplace(path + ".lora_b", mx::contiguous(mx::transpose(mx::astype(pair.b, mx::float32))));
  }
  std::vector<std::string> keys;
  for (const auto& t : targets) keys.push_back(layer_key(t));
  const json config = {
      {"fine_tune_type", "lora"},
      {"num_layers", num_layers},
      {"lora_parameters",
       {{"rank", adapters.config.rank},
        {"scale", adapters.config.scale()},
        {"dropout", adapters.config.dropout},
        {"keys", keys}}},
  };
  StagedFiles files;
  write_safetensors(files.stage(dir / kMlxWeights), tensors);
  write_json(files.stage(dir / kConfigFile), config);
  files.commit();
}

AdapterFormat detect_adapter_format(const fs::path& dir) {
  if (!fs::is_directory(dir)) {
    fail(dir, "the adapter directory does not exist", "pass the directory that holds adapter_config.json");
  }
  if (fs::is_regular_file(dir / kPeftWeights)) return AdapterFormat::Peft;
  if (fs::is_regular_file(dir / kMlxWeights)) return AdapterFormat::MlxLm;
  fail(dir, "no adapter weights found",
       "expected adapter_model.safetensors (PEFT) or adapters.safetensors (mlx-lm) in this directory");
}

LoraAdapters load_adapter(const fs::path& dir) {
  return detect_adapter_format(dir) == AdapterFormat::Peft ? load_peft(dir) : load_mlx(dir);
}

void check_adapter_fits(const LoraAdapters& adapters, const ModelConfig& model, const std::string& source) {
  for (const auto& [path, pair] : adapters.modules) {
    const auto [layer, target] = parse_module_path(path);
    if (layer >= model.num_hidden_layers) {
      throw Error(ErrorKind::Model, source,
                  "adapter module '" + path + "' is on layer " + std::to_string(layer) +
                      " but the model has " + std::to_string(model.num_hidden_layers) + " layers",
                  "use the adapter with the base model it was trained on");
    }
    const auto [in, out] = lora_projection_shape(model, target);
    if (pair.a.shape(1) != in || pair.b.shape(0) != out) {
      throw Error(ErrorKind::Model, source,
                  "adapter module '" + path + "' maps " + std::to_string(pair.a.shape(1)) + " -> " +
                      std::to_string(pair.b.shape(0)) + " features but the model's " + target + " maps " +
                      std::to_string(in) + " -> " + std::to_string(out),
                  "use the adapter with the base model it was trained on");
    }
  }
}

}  // namespace mlxft
