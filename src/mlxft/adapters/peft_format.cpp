// The PEFT adapter format (see peft_format.h).
#include "mlxft/adapters/peft_format.h"

#include <cmath>

#include "mlxft/adapters/adapter_checks.h"
#include "mlxft/util/durable_file.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

constexpr const char* kPeftPrefix = "base_model.model.";

// A float that is a whole number is written as an integer (lora_alpha 16, not 16.0).
json number(float v) {
  if (v == std::nearbyint(v) && std::fabs(v) < 1e9f) return static_cast<int64_t>(v);
  return v;
}

json peft_config(const LoraAdapters& adapters, const std::string& base_model) {
  const LoraConfig& c = adapters.config;
  return {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model},
      {"r", c.rank},
      {"lora_alpha", number(c.alpha)},
      {"lora_dropout", c.dropout},
      {"target_modules", adapters::adapted_targets(adapters)},
      {"layers_to_transform", c.layers.empty() ? json(nullptr) : json(adapters::adapted_layers(adapters))},
      {"layers_pattern", nullptr},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"use_rslora", c.use_rslora},
      {"use_dora", c.kind == AdapterKind::dora},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"rank_pattern", json::object()},
      {"alpha_pattern", json::object()},
      {"layer_replication", nullptr},
      {"revision", nullptr},
  };
}

LoraConfig read_peft_config(const fs::path& config_file) {
  using adapters::config_value;
  const json j = adapters::read_adapter_config(config_file);
  if (config_value<std::string>(j, config_file, "peft_type") != "LORA") {
    adapters::adapter_error(config_file,
                            "peft_type is '" + j["peft_type"].get<std::string>() + "', not LORA");
  }
  adapters::require_unsupported_absent(j, config_file, "bias", "trained biases");
  adapters::require_unsupported_absent(j, config_file, "fan_in_fan_out", "transposed (Conv1D) weights");
  adapters::require_unsupported_absent(j, config_file, "rank_pattern", "per-module ranks");
  adapters::require_unsupported_absent(j, config_file, "alpha_pattern", "per-module alphas");
  LoraConfig config;
  config.kind = config_value<bool>(j, config_file, "use_dora", false) ? AdapterKind::dora : AdapterKind::lora;
  config.rank = config_value<int>(j, config_file, "r");
  config.alpha = config_value<float>(j, config_file, "lora_alpha");
  config.dropout = config_value<float>(j, config_file, "lora_dropout", 0.0f);
  config.use_rslora = config_value<bool>(j, config_file, "use_rslora", false);
  if (config.rank < 1) {
    adapters::adapter_error(config_file, "r must be at least 1, got " + std::to_string(config.rank));
  }
  return config;
}

}  // namespace

void save_adapter_peft(const LoraAdapters& adapters, const fs::path& dir, const std::string& base_model) {
  adapters::check_saveable(adapters, dir);
  std::unordered_map<std::string, mx::array> tensors;
  const auto& names = adapter_tensors(adapters.config.kind);
  for (const auto& [path, pair] : adapters.modules) {
    const auto arrays = pair.arrays();
    for (size_t i = 0; i < arrays.size(); ++i)
      tensors.emplace(kPeftPrefix + path + "." + names[i].peft_file, mx::astype(arrays[i], mx::float32));
  }
  StagedDirectory staged(dir);
  adapters::write_adapter_safetensors(staged.path() / kPeftWeightsFile, tensors);
  adapters::write_adapter_json(staged.path() / adapters::kConfigFile, peft_config(adapters, base_model));
  staged.publish();
}

LoraAdapters load_peft_adapter(const fs::path& dir) {
  const fs::path weights = dir / kPeftWeightsFile;
  const LoraConfig config = read_peft_config(dir / adapters::kConfigFile);
  constexpr auto field = &AdapterTensorNames::peft_file;
  const auto& names = adapter_tensors(config.kind);
  const std::regex re(R"(base_model\.model\.model\.layers\.(\d{1,6})\.(\w+)\.(\w+)\.)" +
                      adapters::tensor_names_group(config.kind, field));
  std::map<std::string, adapters::ReadModule> read;
  for (auto& [key, tensor] : adapters::read_adapter_tensors(weights)) {
    const auto [path, part] = adapters::split_adapter_key(
        key, re, weights, "base_model.model.model.layers.0.self_attn.q_proj." + names[0].peft_file);
    adapters::read_slot(read[path], config.kind, field, part) = tensor;
  }
  return adapters::assemble_adapters(read, config, weights, false, [&](const std::string& path, size_t i) {
    return kPeftPrefix + path + "." + names[i].peft_file;
  });
}

}  // namespace mlxft
