// Reading, checking and writing what both adapter formats share (see adapter_checks.h).
#include "mlxft/adapters/adapter_checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/address_space.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace adapters {
namespace {

// The shape as the file stores it: `transposed` when the file holds the transpose of `a`.
std::string stored_shape(const mx::array& a, bool transposed) {
  auto shape = a.shape();
  if (transposed) std::reverse(shape.begin(), shape.end());
  return shape_string(shape);
}

}  // namespace

void adapter_error(const fs::path& file, const std::string& what, const std::string& hint) {
  throw Error(ErrorKind::Model, file.string(), what, hint);
}

json read_adapter_config(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec))
    adapter_error(file, "cannot open the adapter config", "an adapter directory needs adapter_config.json");
  return read_untrusted_json(file, "adapter config", 16ull << 20);  // regular file, bounded depth
}

void require_unsupported_absent(const json& j, const fs::path& file, const std::string& key,
                                const std::string& why) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()) ||
      (it->is_object() && it->empty()) || (it->is_string() && it->get<std::string>() == "none")) {
    return;
  }
  adapter_error(file, fmt::format("key '{}' = {} is not supported: {}", key, json_brief(*it), why),
                "mlxft reads LoRA and DoRA adapters with one rank for every module and no bias");
}

std::unordered_map<std::string, mx::array> read_adapter_tensors(const fs::path& file) {
  if (!fs::is_regular_file(file)) adapter_error(file, "the adapter weights file is missing");
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
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    adapter_error(file, fmt::format("cannot read the safetensors file: {}", e.what()),
                  "the file is damaged or not a safetensors file; export the adapter again");
  }
}

std::pair<std::string, std::string> split_adapter_key(const std::string& key, const std::regex& re,
                                                      const fs::path& file, const std::string& expected) {
  std::smatch m;
  if (std::regex_match(key, m, re)) {
    const int layer = std::stoi(m[1].str());
    const auto& names = lora_target_names();
    if (std::find(names.begin(), names.end(), m[3].str()) != names.end()) {
      const std::string path = lora_module_path(layer, m[3].str());
      if (path == fmt::format("model.layers.{}.{}.{}", m[1].str(), m[2].str(), m[3].str()))
        return {path, m[4].str()};
    }
  }
  adapter_error(
      file, fmt::format("unexpected tensor '{}'", key),
      fmt::format("expected LoRA tensors named like '{}' on q/k/v/o_proj or gate/up/down_proj (Phi-3: "
                  "qkv_proj, o_proj, gate_up_proj, down_proj)",
                  expected));
}

std::string tensor_names_group(AdapterKind kind, AdapterNameField format) {
  std::string group;
  for (const auto& names : adapter_tensors(kind)) {
    std::string escaped;
    for (const char c : names.*format) escaped += c == '.' ? std::string("\\.") : std::string(1, c);
    group += (group.empty() ? "(" : "|") + escaped;
  }
  return group + ")";
}

std::optional<mx::array>& read_slot(ReadModule& module, AdapterKind kind, AdapterNameField format,
                                    const std::string& name) {
  const auto& names = adapter_tensors(kind);
  if (name == names[0].*format) return module.a;
  if (name == names[1].*format) return module.b;
  return module.magnitude;
}

LoraAdapters assemble_adapters(std::map<std::string, ReadModule>& read, LoraConfig config,
                               const fs::path& file, bool transposed,
                               const std::function<std::string(const std::string&, size_t)>& name_of) {
  if (read.empty()) adapter_error(file, "the file holds no LoRA tensors");
  const bool has_magnitude = adapter_tensors(config.kind).size() > 2;
  LoraAdapters adapters;
  std::map<std::string, std::pair<int, int>> target_shape;  // target -> (in, out)
  for (auto& [path, m] : read) {
    if (!m.a)
      adapter_error(file, fmt::format("tensor '{}' is missing (its pair is present)", name_of(path, 0)));
    if (!m.b)
      adapter_error(file, fmt::format("tensor '{}' is missing (its pair is present)", name_of(path, 1)));
    if (m.a->ndim() != 2 || m.a->shape(0) != config.rank) {
      adapter_error(file, fmt::format("tensor '{}' has shape {} for rank {}", name_of(path, 0),
                                      stored_shape(*m.a, transposed), config.rank));
    }
    if (m.b->ndim() != 2 || m.b->shape(1) != config.rank) {
      adapter_error(file, fmt::format("tensor '{}' has shape {} for rank {}", name_of(path, 1),
                                      stored_shape(*m.b, transposed), config.rank));
    }
    if (has_magnitude && !m.magnitude) {
      adapter_error(file, fmt::format("tensor '{}' is missing (the module's other tensors are present)",
                                      name_of(path, 2)));
    }
    if (m.magnitude && (m.magnitude->ndim() != 1 || m.magnitude->shape(0) != m.b->shape(0))) {
      adapter_error(file, fmt::format("tensor '{}' has shape {}; it needs one magnitude per output row, [{}]",
                                      name_of(path, 2), shape_string(m.magnitude->shape()), m.b->shape(0)));
    }
    const std::pair<int, int> in_out{m.a->shape(1), m.b->shape(0)};
    const auto target = parse_module_path(path).target;
    const auto [it, inserted] = target_shape.emplace(target, in_out);
    if (!inserted && it->second != in_out) {
      adapter_error(
          file, fmt::format("tensors of '{}' have (in, out) = ({}, {}) but other {} modules have ({}, {})",
                            path, in_out.first, in_out.second, target, it->second.first, it->second.second));
    }
    adapters.modules.emplace(path, LoraPair{*m.a, *m.b, m.magnitude});
  }
  config.targets = adapted_targets(adapters);
  config.layers = adapted_layers(adapters);
  adapters.config = config;
  return adapters;
}

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

void check_saveable(const LoraAdapters& adapters, const fs::path& dir) {
  if (adapters.modules.empty()) adapter_error(dir, "the adapter has no modules to save");
}

void write_adapter_json(const fs::path& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

void write_adapter_safetensors(const fs::path& path,
                               const std::unordered_map<std::string, mx::array>& tensors) {
  try {
    write_staged_via(path, [&](const fs::path& file) {  // inside the adapter's StagedDirectory
      mx::save_safetensors(file.string(), tensors, {{"format", "pt"}});
    });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    throw Error(ErrorKind::Io, path.string(), fmt::format("cannot write the file: {}", e.what()),
                "check free space and permissions");
  }
}

}  // namespace adapters

void check_adapter_fits(const LoraAdapters& adapters, const ModelConfig& model, const std::string& source) {
  const std::vector<std::string> own = family_lora_targets(model);
  for (const auto& [path, pair] : adapters.modules) {
    const auto [layer, target] = parse_module_path(path);
    if (std::find(own.begin(), own.end(), target) == own.end()) {
      throw Error(ErrorKind::Model, source,
                  fmt::format("adapter module '{}' adapts {}, which a {} model does not have (its projections: {})",
                              path, target, model.model_type, fmt::join(own, ", ")),
                  "use the adapter with the base model it was trained on");
    }
    if (layer >= model.num_hidden_layers) {
      throw Error(ErrorKind::Model, source,
                  fmt::format("adapter module '{}' is on layer {} but the model has {} layers", path, layer,
                              model.num_hidden_layers),
                  "use the adapter with the base model it was trained on");
    }
    const auto [in, out] = lora_projection_shape(model, target);
    if (pair.a.shape(1) != in || pair.b.shape(0) != out || (pair.magnitude && pair.magnitude->shape(0) != out)) {
      throw Error(ErrorKind::Model, source,
                  fmt::format("adapter module '{}' maps {} -> {} features but the model's {} maps {} -> {}",
                              path, pair.a.shape(1), pair.b.shape(0), target, in, out),
                  "use the adapter with the base model it was trained on");
    }
  }
}

}  // namespace mlxft
