// What the PEFT and mlx-lm adapter formats share: reading the config and the tensors, checking
// keys, ranks and shapes, and writing the files.
//
// Contract:
// - Every read problem is a Model error naming the file and, where there is one, the key or the
//   tensor (adapter_error()).
// - read_adapter_tensors() returns float32 arrays, evaluated.
// - assemble_adapters() checks that every module has each tensor of its kind (both halves, of the
//   config's rank, and DoRA's magnitude of B's rows), with one (in, out) shape per target, and fills
//   targets and layers from the modules found.
// - adapted_targets()/adapted_layers() list what an adapter covers (targets in
//   lora_target_names() order, layers ascending).
// - write_adapter_json()/write_adapter_safetensors() write one file of an adapter; callers write
//   them into a StagedDirectory (util/durable_file.h) so an adapter directory appears whole.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/lora.h"

namespace mlxft::adapters {

inline constexpr const char* kConfigFile = "adapter_config.json";

[[noreturn]] void adapter_error(const std::filesystem::path& file, const std::string& what,
                                const std::string& hint = {});

nlohmann::json read_adapter_config(const std::filesystem::path& file);

// The value of `key` in config `j`, required (unless `fallback` is given) and of type T.
template <typename T>
T config_value(const nlohmann::json& j, const std::filesystem::path& file, const std::string& key,
               std::optional<T> fallback = {}) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    adapter_error(file, "key '" + key + "' is missing");
  }
  const bool ok = std::is_same_v<T, bool>          ? it->is_boolean()
                  : std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_integral_v<T>          ? it->is_number_integer()
                                                   : it->is_number();
  if (!ok) adapter_error(file, "key '" + key + "' has the wrong type: " + it->dump());
  return it->get<T>();
}

// A Model error when `key` is set to anything but off/empty/"none" (`why` names the feature).
void require_unsupported_absent(const nlohmann::json& j, const std::filesystem::path& file,
                                const std::string& key, const std::string& why);

std::unordered_map<std::string, mlx::core::array> read_adapter_tensors(const std::filesystem::path& file);

// One adapted module as read from a file, in PEFT orientation.
struct ReadModule {
  std::optional<mlx::core::array> a;          // [rank, in]
  std::optional<mlx::core::array> b;          // [out, rank]
  std::optional<mlx::core::array> magnitude;  // DoRA: [out]
};

// A format's names of the kind's tensors (adapter_tensors(), `format` one of AdapterTensorNames' fields):
// as a regex group "(lora_A\.weight|lora_B\.weight)" (dots escaped), and the slot of a module that the
// name read from a file fills (in adapter_tensors() order: a, b, magnitude).
using AdapterNameField = std::string AdapterTensorNames::*;
std::string tensor_names_group(AdapterKind kind, AdapterNameField format);
std::optional<mlx::core::array>& read_slot(ReadModule& module, AdapterKind kind, AdapterNameField format,
                                           const std::string& name);

// Splits a tensor key with `re` (groups: layer, block, target, part) into (module path, part), or
// fails naming the key and an `expected` example.
std::pair<std::string, std::string> split_adapter_key(const std::string& key, const std::regex& re,
                                                      const std::filesystem::path& file,
                                                      const std::string& expected);

// `name_of(path, i)` gives the file's key of the module's tensor adapter_tensors(config.kind)[i] for
// messages; `transposed`: the file stores A^T and B^T (shapes in messages are shown as stored).
// Every tensor of the kind must be there (a DoRA magnitude [out], where out is B's).
LoraAdapters assemble_adapters(std::map<std::string, ReadModule>& read, LoraConfig config,
                               const std::filesystem::path& file, bool transposed,
                               const std::function<std::string(const std::string&, size_t)>& name_of);

std::vector<std::string> adapted_targets(const LoraAdapters& adapters);
std::vector<int> adapted_layers(const LoraAdapters& adapters);

// A Model error naming `dir` when there is nothing to save.
void check_saveable(const LoraAdapters& adapters, const std::filesystem::path& dir);
void write_adapter_json(const std::filesystem::path& path, const nlohmann::json& j);
void write_adapter_safetensors(const std::filesystem::path& path,
                               const std::unordered_map<std::string, mlx::core::array>& tensors);

}  // namespace mlxft::adapters
