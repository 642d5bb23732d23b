#include "mlxft/model/lora.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <regex>
#include <set>
#include <stdexcept>

#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/util/error.h"
#include "mlxft/util/hash.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

bool is_attention_target(const std::string& t) {
  return t == "q_proj" || t == "k_proj" || t == "v_proj" || t == "o_proj" || t == "qkv_proj";
}

// The per-module init key is seed ^ FNV-1a(module path) with this basis: the standard offset
// basis 14695981039346656037 with its last digit dropped, as the first versions wrote it. It is
// kept so that the same seed gives the same initial adapters (and so the same trained ones) as
// before; any basis hashes equally well.
constexpr uint64_t kLoraInitFnvBasis = 1469598103934665603ull;

}  // namespace

const std::vector<std::string>& lora_target_names() {
  static const std::vector<std::string> names = {"q_proj",  "k_proj",    "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj", "qkv_proj",
                                                 "gate_up_proj"};
  return names;
}

std::string lora_module_path(int layer, const std::string& target) {
  const auto& names = lora_target_names();
  if (std::find(names.begin(), names.end(), target) == names.end()) {
    throw Error(ErrorKind::Config, "lora.target_modules", fmt::format("unknown target '{}'", target),
                fmt::format("allowed: {}", fmt::join(names, ", ")));
  }
  return "model.layers." + std::to_string(layer) + (is_attention_target(target) ? ".self_attn." : ".mlp.") +
         target;
}

Projection projection_of(const std::string& target) {
  const auto& names = lora_target_names();
  const auto it = std::find(names.begin(), names.end(), target);
  if (it == names.end()) throw std::logic_error("not a LoRA target: " + target);
  return static_cast<Projection>(it - names.begin());
}

LoraModulePath parse_module_path(const std::string& path) {
  static const std::regex re(R"(model\.layers\.(\d{1,6})\.(?:self_attn|mlp)\.(\w+))");
  std::smatch m;
  if (!std::regex_match(path, m, re)) throw std::logic_error("not a LoRA module path: " + path);
  return {std::stoi(m[1].str()), m[2].str()};
}

std::pair<int, int> lora_projection_shape(const ModelConfig& m, const std::string& target) {
  const int q_out = m.num_attention_heads * m.head_dim;
  const int kv_out = m.num_key_value_heads * m.head_dim;
  if (target == "q_proj") return {m.hidden_size, q_out};
  if (target == "k_proj" || target == "v_proj") return {m.hidden_size, kv_out};
  if (target == "o_proj") return {q_out, m.hidden_size};
  if (target == "gate_proj" || target == "up_proj") return {m.hidden_size, m.intermediate_size};
  if (target == "qkv_proj") return {m.hidden_size, q_out + 2 * kv_out};
  if (target == "gate_up_proj") return {m.hidden_size, 2 * m.intermediate_size};
  return {m.intermediate_size, m.hidden_size};  // down_proj
}

std::vector<mx::array> LoraAdapters::flatten() const {
  std::vector<mx::array> flat;
  for (const auto& [name, pair] : modules) {
    for (const auto& a : pair.arrays()) flat.push_back(a);
  }
  return flat;
}

void LoraAdapters::assign(const std::vector<mx::array>& flat) {
  size_t expected = 0;
  for (const auto& [name, pair] : modules) expected += pair.arrays().size();
  if (flat.size() != expected) {
    throw std::logic_error("LoraAdapters::assign: expected " + std::to_string(expected) + " arrays, got " +
                           std::to_string(flat.size()));
  }
  size_t i = 0;
  for (auto& [name, pair] : modules) i = pair.assign(flat, i);
}

int64_t LoraAdapters::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, pair] : modules) {
    for (const auto& a : pair.arrays()) n += static_cast<int64_t>(a.size());
  }
  return n;
}

const LoraPair* LoraAdapters::find(const std::string& module_path) const {
  auto it = modules.find(module_path);
  return it == modules.end() ? nullptr : &it->second;
}

LoraAdapters init_lora(const ModelConfig& model, const LoraConfig& config, uint64_t seed,
                       const BaseWeightFn& base) {
  if (config.rank < 1) {
    throw Error(ErrorKind::Config, "lora.rank", "must be at least 1, got " + std::to_string(config.rank));
  }
  if (!(config.dropout >= 0.0f && config.dropout < 1.0f)) {
    throw Error(ErrorKind::Config, "lora.dropout",
                "must be in [0, 1), got " + std::to_string(config.dropout));
  }
  if (config.targets.empty()) {
    throw Error(ErrorKind::Config, "lora.target_modules", "must name at least one projection",
                "for example [q_proj, v_proj]");
  }
  std::vector<int> layers = config.layers;
  if (layers.empty()) {
    for (int i = 0; i < model.num_hidden_layers; ++i) layers.push_back(i);
  }
  std::set<int> unique_layers(layers.begin(), layers.end());
  for (int layer : unique_layers) {
    if (layer < 0 || layer >= model.num_hidden_layers) {
      throw Error(ErrorKind::Config, "lora.layers",
                  "layer " + std::to_string(layer) + " does not exist (the model has " +
                      std::to_string(model.num_hidden_layers) + " layers: 0.." +
                      std::to_string(model.num_hidden_layers - 1) + ")");
    }
  }

  for (const auto& t : config.targets) (void)lora_module_path(0, t);  // rejects unknown targets
  const std::vector<std::string> own = family_lora_targets(model);
  for (const auto& t : config.targets) {
    if (std::find(own.begin(), own.end(), t) == own.end()) {
      throw Error(ErrorKind::Config, "lora.target_modules",
                  fmt::format("a {} model has no projection '{}'", model.model_type, t),
                  fmt::format("its projections are {}{}", fmt::join(own, ", "),
                              family_of(model.model_type).fused_projections
                                  ? " (PEFT's names for it: q/k/v are one qkv_proj, gate/up one gate_up_proj)"
                                  : ""));
    }
  }

  LoraAdapters adapters;
  adapters.config = config;
  adapters.config.layers.assign(unique_layers.begin(), unique_layers.end());
  for (int layer : unique_layers) {
    for (const auto& target : config.targets) {
      const std::string path = lora_module_path(layer, target);
      if (adapters.modules.count(path) != 0) continue;
      const auto [in, out] = lora_projection_shape(model, target);
      // Each module's key depends only on the seed and its path, so its init does not
      // change with which other modules are adapted.
      const auto key = mx::random::key(seed ^ fnv1a64(path, kLoraInitFnvBasis));
      adapters.modules.emplace(path, initial_adapter(config, in, out, key, [&] {
        if (!base) throw std::logic_error("init_lora: adapter kind " + adapter_kind_name(config.kind) + " needs the base weights");
        return base(path);
      }));
    }
  }
  return adapters;
}

}  // namespace mlxft
