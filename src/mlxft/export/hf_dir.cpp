// The fused Hugging Face directory (see hf_dir.h).
#include "mlxft/export/hf_dir.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/fuse.h"
#include "mlxft/export/hf_tokenizer.h"
#include "mlxft/formats/gguf_file.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;
using nlohmann::json;

namespace mlxft {
namespace {

json fused_config(const ModelSource& source, const ModelConfig& config, mx::Dtype dtype) {
  if (source.kind == ModelSourceKind::GgufFile) {
    ModelConfig c = config;
    c.torch_dtype = dtype_name(dtype);
    return c.to_json();
  }
  std::ifstream in(source.config_file);
  json j = json::parse(in);  // load_model has read and checked it
  j.erase("quantization");
  j.erase("quantization_config");
  if (j.contains("dtype") || config.form == ConfigForm::Transformers5)
    j["dtype"] = dtype_name(dtype);
  else
    j["torch_dtype"] = dtype_name(dtype);
  return j;
}

std::string shard_name(size_t k, size_t n) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", k, n);
}

// Writes the weights in expected_weights() order, evaluating one shard at a time.
FuseResult write_weights(const fs::path& dir, const ModelConfig& config,
                         std::unordered_map<std::string, mx::array> weights, int64_t limit) {
  std::vector<std::vector<std::string>> shards(1);
  int64_t bytes = 0, total = 0;
  for (const auto& [name, shape] : expected_weights(config)) {
    const int64_t n = static_cast<int64_t>(weights.at(name).nbytes());
    if (bytes > 0 && bytes + n > limit) shards.emplace_back(), bytes = 0;
    shards.back().push_back(name);
    bytes += n, total += n;
  }
  json weight_map = json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file = shards.size() == 1 ? "model.safetensors" : shard_name(s + 1, shards.size());
    std::unordered_map<std::string, mx::array> part;
    for (const auto& name : shards[s]) part.insert_or_assign(name, weights.at(name)), weight_map[name] = file;
    save_safetensors(dir / file, part);
    for (const auto& name : shards[s]) weights.erase(name);
  }
  if (shards.size() > 1) {
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n");
  }
  return {static_cast<int>(weight_map.size()), static_cast<int>(shards.size()), total};
}

void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json", "generation_config.json", "chat_template.jinja"}) {
    if (!fs::exists(from / name)) continue;
    write_staged_via(to / name, [&](const fs::path& file) { fs::copy_file(from / name, file); });
  }
}

}  // namespace

void require_new_output(const fs::path& out, const std::string& option) {
  if (fs::exists(out) || fs::is_symlink(out)) {
    throw Error(ErrorKind::Usage, option + " " + out.string(), "already exists",
                "choose a new path; mlxft never overwrites an export");
  }
}

FuseResult write_fused_model(const FuseOptions& o) {
  require_new_output(o.out, "--out");
  std::optional<LoraAdapters> adapters;
  if (!o.adapter.empty()) adapters = load_adapter(o.adapter);
  return write_fused_model(o, adapters ? &*adapters : nullptr);
}

FuseResult write_fused_model(const FuseOptions& o, const LoraAdapters* adapters) {
  require_new_output(o.out, "--out");
  const ModelSource source = resolve_model_source(o.model);
  const Model model = load_model(o.model, stored_float_dtype(o.model));
  if (adapters)
    check_adapter_fits(*adapters, model.config, o.adapter.empty() ? "the adapter" : o.adapter.string());
  auto weights = fused_weights(model, adapters, o.dtype);
  try {
    StagedDirectory staged(o.out);
    const json config = fused_config(source, model.config, o.dtype);
    write_file_atomic(staged.path() / "config.json", config.dump(2) + "\n");
    const FuseResult r = write_weights(staged.path(), model.config, std::move(weights), o.shard_bytes);
    if (source.kind == ModelSourceKind::GgufFile)
      write_hf_tokenizer_from_gguf(source.path, model.config, staged.path());
    else
      copy_tokenizer_files(source.path, staged.path());
    staged.publish();
    return r;
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorKind::Io, o.out.string(), fmt::format("could not write the model: {}", e.what()));
  }
}

}  // namespace mlxft
