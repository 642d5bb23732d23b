// The mlx-lm adapter format (see mlx_lm_format.h).
#include "mlxft/adapters/mlx_lm_format.h"

#include <spdlog/spdlog.h>

#include "mlxft/adapters/adapter_checks.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

// "self_attn.q_proj" / "mlp.down_proj": the module path below a layer, as mlx-lm's keys name it.
std::string layer_key(const std::string& target) {
  const std::string path = lora_module_path(0, target);
  return path.substr(std::string("model.layers.0.").size());
}

// mlx-lm wraps `keys` in the last num_layers layers: from the lowest adapted layer to the end.
int mlx_num_layers(const LoraAdapters& adapters, const fs::path& dir, int model_layers) {
  const auto layers = adapters::adapted_layers(adapters);
  const auto targets = adapters::adapted_targets(adapters);
  if (layers.back() >= model_layers) {
    throw Error(ErrorKind::Model, dir.string(),
                "the adapter has layer " + std::to_string(layers.back()) + " but the model has " +
                    std::to_string(model_layers) + " layers");
  }
  const int num_layers = model_layers - layers.front();
  if (adapters.modules.size() != static_cast<size_t>(num_layers) * targets.size()) {
    spdlog::warn(
        "{}: mlx-lm attaches adapters to every key in the last {} layers (num_layers), but this adapter "
        "covers only layers {} of {} with {} of them; mlx-lm gives the others zero B, so outputs are "
        "the same, but training resumed in mlx-lm would train them too",
        dir.string(), num_layers, json(layers).dump(), model_layers, json(targets).dump());
  }
  return num_layers;
}

LoraConfig read_mlx_config(const fs::path& config_file) {
  using adapters::config_value;
  const json j = adapters::read_adapter_config(config_file);
  const auto type =
      config_value<std::string>(j, config_file, "fine_tune_type", adapter_kind_name(AdapterKind::lora));
  const std::optional<AdapterKind> kind = adapter_kind_named(type);
  if (!kind) {
    adapters::adapter_error(config_file,
                            "fine_tune_type is '" + type + "'; only LoRA and DoRA adapters are supported");
  }
  const auto params_it = j.find("lora_parameters");
  if (params_it == j.end() || !params_it->is_object()) {
    adapters::adapter_error(config_file, "key 'lora_parameters' is missing");
  }
  const json& params = *params_it;
  LoraConfig config;
  config.kind = *kind;
  config.rank = config_value<int>(params, config_file, "rank");
  if (config.rank < 1) {
    adapters::adapter_error(config_file,
                            "lora_parameters.rank must be at least 1, got " + std::to_string(config.rank));
  }
  // mlx-lm stores the scale itself; alpha = scale * rank gives the same scale back.
  config.alpha = config_value<float>(params, config_file, "scale") * static_cast<float>(config.rank);
  config.dropout = config_value<float>(params, config_file, "dropout", 0.0f);
  return config;
}

}  // namespace

void save_adapter_mlx(const LoraAdapters& adapters, const fs::path& dir, int model_layers) {
  adapters::check_saveable(adapters, dir);
  const int num_layers = mlx_num_layers(adapters, dir, model_layers);
  std::unordered_map<std::string, mx::array> tensors;
  const auto& names = adapter_tensors(adapters.config.kind);
  for (const auto& [path, pair] : adapters.modules) {
    const auto arrays = pair.arrays();
    for (size_t i = 0; i < arrays.size(); ++i) {
      tensors.emplace(path + "." + names[i].mlx_lm,
                      mx::contiguous(mx::transpose(mx::astype(arrays[i], mx::float32))));
    }
  }
  std::vector<std::string> keys;
  for (const auto& t : adapters::adapted_targets(adapters)) keys.push_back(layer_key(t));
  const json config = {
      {"fine_tune_type", adapter_kind_name(adapters.config.kind)},
      {"num_layers", num_layers},
      {"lora_parameters",
       {{"rank", adapters.config.rank},
        {"scale", adapters.config.scale()},
        {"dropout", adapters.config.dropout},
        {"keys", keys}}},
  };
  StagedDirectory staged(dir);
  adapters::write_adapter_safetensors(staged.path() / kMlxWeightsFile, tensors);
  adapters::write_adapter_json(staged.path() / adapters::kConfigFile, config);
  staged.publish();
}

LoraAdapters load_mlx_adapter(const fs::path& dir) {
  const fs::path weights = dir / kMlxWeightsFile;
  const LoraConfig config = read_mlx_config(dir / adapters::kConfigFile);
  constexpr auto field = &AdapterTensorNames::mlx_lm;
  const auto& names = adapter_tensors(config.kind);
  const std::regex re(R"(model\.layers\.(\d{1,6})\.(\w+)\.(\w+)\.)" +
                      adapters::tensor_names_group(config.kind, field));
  std::map<std::string, adapters::ReadModule> read;
  for (auto& [key, tensor] : adapters::read_adapter_tensors(weights)) {
    const auto [path, part] =
        adapters::split_adapter_key(key, re, weights, "model.layers.0.self_attn.q_proj." + names[0].mlx_lm);
    if (tensor.ndim() == 2) tensor = mx::transpose(tensor);  // mlx-lm stores A^T and B^T (DoRA's m: [out])
    adapters::read_slot(read[path], config.kind, field, part) = tensor;
  }
  auto result = adapters::assemble_adapters(
      read, config, weights, true,
      [&](const std::string& path, size_t i) { return path + "." + names[i].mlx_lm; });
  std::vector<mx::array> flat = result.flatten();
  for (auto& a : flat) a = mx::contiguous(a);
  mx::eval(flat);
  result.assign(flat);
  return result;
}

}  // namespace mlxft
