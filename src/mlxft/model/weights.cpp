// Finding, loading and checking the weights of an HF directory (see weights.h).
#include "mlxft/model/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mlxft/formats/safetensors.h"
#include "mlxft/model/family.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

// tensor name -> file, from model.safetensors.index.json, or {} when there is no index.
std::map<std::string, std::string> read_weight_map(const fs::path& index_file) {
  const nlohmann::json j = read_untrusted_json(index_file, "shard index", 64ull << 20);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error(ErrorKind::Model, index_file.string(), "has no \"weight_map\" object");
  }
  std::map<std::string, std::string> map;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    // A bare file name in the model's directory: no separator, no "..", ".", absolute path or NUL.
    const std::string name = file.is_string() ? file.get<std::string>() : std::string();
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name.find('\0') != std::string::npos) {
      throw Error(ErrorKind::Model, index_file.string() + ": weight_map." + tensor,
                  "must be the bare name of a shard file in the directory, got " + json_brief(file),
                  "an index names shards beside it (model-00001-of-00002.safetensors); a path that "
                  "leaves the model's directory is refused");
    }
    map[tensor] = name;
  }
  return map;
}

// "" when `name` may have `dtype`, else what it must be: packed quantized weights are uint32, their
// scales and biases and every other weight floating point.
std::string dtype_problem(const std::string& name, mx::Dtype dtype, const QuantMap& q) {
  const bool packed = name.ends_with(".weight") && q.count(name.substr(0, name.size() - 7));
  if (packed) return dtype == mx::uint32 ? "" : "a quantized weight must be uint32 (packed)";
  if (!mx::issubdtype(dtype, mx::floating)) return "it must be float32, float16 or bfloat16";
  return "";
}

}  // namespace

std::vector<std::pair<std::string, mx::Shape>> expected_weights(const ModelConfig& c, const QuantMap& q) {
  const int h = c.hidden_size;
  const auto extras = extra_layer_weights(c);  // the family's biases and norms
  const auto projections = layer_projections(c);  // q, k, v, o, gate, up, down (Phi-3: fused ones)
  std::vector<std::pair<std::string, mx::Shape>> w;
  w.emplace_back("model.embed_tokens.weight", mx::Shape{c.vocab_size, h});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    w.emplace_back(p + "input_layernorm.weight", mx::Shape{h});
    for (const auto& [module, shape] : projections) {
      if (module.starts_with("self_attn.")) w.emplace_back(p + module + ".weight", shape);
    }
    w.emplace_back(p + "post_attention_layernorm.weight", mx::Shape{h});
    for (const auto& [module, shape] : projections) {
      if (module.starts_with("mlp.")) w.emplace_back(p + module + ".weight", shape);
    }
    for (const auto& [name, shape] : extras) w.emplace_back(p + name, shape);
  }
  w.emplace_back("model.norm.weight", mx::Shape{h});
  if (!c.tie_word_embeddings) w.emplace_back("lm_head.weight", mx::Shape{c.vocab_size, h});
  if (q.empty()) return w;
  std::vector<std::pair<std::string, mx::Shape>> packed;
  for (auto& [name, shape] : w) {
    const auto it = name.ends_with(".weight") ? q.find(name.substr(0, name.size() - 7)) : q.end();
    if (it == q.end() || shape.size() != 2) {
      packed.emplace_back(name, shape);
      continue;
    }
    const std::string module = it->first;
    const int out = shape[0], in = shape[1];
    packed.emplace_back(name, mx::Shape{out, in * it->second.bits / 32});
    packed.emplace_back(module + ".scales", mx::Shape{out, in / it->second.group_size});
    packed.emplace_back(module + ".biases", mx::Shape{out, in / it->second.group_size});
  }
  return packed;
}

std::set<std::string> stored_tensor_names(const fs::path& dir) {
  std::set<std::string> names;
  if (fs::exists(dir / "model.safetensors.index.json")) {
    for (const auto& [tensor, file] : read_weight_map(dir / "model.safetensors.index.json"))
      names.insert(tensor);
  } else if (fs::exists(dir / "model.safetensors")) {
    for (const auto& [tensor, entry] : read_safetensors_header(dir / "model.safetensors").tensors) {
      names.insert(tensor);
    }
  }
  return names;
}

std::unordered_map<std::string, mx::array> load_weights(const fs::path& dir, const ModelConfig& config,
                                                        const QuantMap& quantization) {
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  std::unordered_map<std::string, mx::array> weights;
  std::map<std::string, std::string> source_of;  // tensor -> file it came from
  std::vector<std::string> problems;

  if (fs::exists(index)) {
    const auto weight_map = read_weight_map(index);
    std::set<std::string> shards;
    for (const auto& [tensor, file] : weight_map) shards.insert(file);
    for (const auto& shard : shards) {
      const fs::path file = dir / shard;
      check_regular_file(file, "shard named in " + index.filename().string());
      for (auto& [name, array] : load_safetensors(file)) {
        const auto it = weight_map.find(name);
        if (it == weight_map.end() || it->second != shard) {
          problems.push_back(file.string() + ": tensor '" + name + "' is not listed for this shard in " +
                             index.filename().string());
          continue;
        }
        source_of[name] = file.string();
        weights.insert_or_assign(name, std::move(array));
      }
    }
  } else if (fs::exists(single)) {
    for (auto& [name, array] : load_safetensors(single)) {
      source_of[name] = single.string();
      weights.insert_or_assign(name, std::move(array));
    }
  } else {
    throw Error(ErrorKind::Model, dir.string(), "no model.safetensors or model.safetensors.index.json",
                "mlxft reads Hugging Face safetensors weights (not consolidated.safetensors or .bin)");
  }

  std::set<std::string> expected_names;
  for (const auto& [name, shape] : expected_weights(config, quantization)) {
    expected_names.insert(name);
    const auto it = weights.find(name);
    if (it == weights.end()) {
      problems.push_back("tensor '" + name + "' " + shape_string(shape) + " is missing from " + dir.string());
    } else if (it->second.shape() != shape) {
      problems.push_back(source_of[name] + ": tensor '" + name + "' has shape " +
                         shape_string(it->second.shape()) + ", config.json implies " + shape_string(shape));
    } else if (const std::string want = dtype_problem(name, it->second.dtype(), quantization);
               !want.empty()) {
      problems.push_back(source_of[name] + ": tensor '" + name + "' has dtype " +
                         dtype_name(it->second.dtype()) + ", " + want);
    }
  }
  for (const auto& [name, file] : source_of) {
    if (!expected_names.count(name)) {
      problems.push_back(file + ": unexpected tensor '" + name + "' " +
                         shape_string(weights.at(name).shape()));
    }
  }
  if (!problems.empty()) {
    std::ostringstream msg;
    msg << problems.size() << " weight problem(s) against config.json:";
    for (size_t i = 0; i < problems.size() && i < 10; ++i) msg << "\n  " << problems[i];
    if (problems.size() > 10) msg << "\n  ... and " << problems.size() - 10 << " more";
    throw Error(
        ErrorKind::Model, dir.string(), msg.str(),
        "the weights do not match config.json (wrong directory, or a model type mlxft does not know)");
  }
  return weights;
}

mx::Dtype parse_dtype(const std::string& name, const std::string& where) {
  if (name == "float32") return mx::float32;
  if (name == "bfloat16") return mx::bfloat16;
  if (name == "float16") return mx::float16;
  throw Error(ErrorKind::Usage, where, "unknown dtype '" + name + "'", "use float32, bfloat16 or float16");
}

std::string shape_string(const mx::Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string dtype_name(mx::Dtype dtype) {
  if (dtype == mx::float32) return "float32";
  if (dtype == mx::bfloat16) return "bfloat16";
  if (dtype == mx::float16) return "float16";
  std::ostringstream s;
  s << dtype;
  return s.str();
}

mx::Dtype default_compute_dtype() {
  return mx::default_device() == mx::Device::cpu ? mx::float32 : mx::bfloat16;
}

}  // namespace mlxft
