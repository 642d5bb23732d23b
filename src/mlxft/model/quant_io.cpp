// The mlx-community directory writer (see quant_io.h).
#include "mlxft/model/quant_io.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "mlxft/formats/safetensors.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/source.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

void check_paths(const ModelSource& source, const fs::path& out) {
  if (source.kind != ModelSourceKind::HfDirectory) {
    throw Error(
        ErrorKind::Usage, source.path.string(),
        fmt::format("is a {}; model quantize reads a float Hugging Face directory", to_string(source.kind)),
        "pass the directory of the float model (config.json, *.safetensors)");
  }
  if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out))) {
    throw Error(ErrorKind::Usage, out.string(), "already exists and is not an empty directory",
                "choose a new --out directory; mlxft never overwrites a model");
  }
}

nlohmann::json quantized_config(const fs::path& config_file, const nlohmann::json& quantization) {
  std::ifstream in(config_file);
  nlohmann::json j = nlohmann::json::parse(in);  // load_model has read it already
  j["quantization"] = quantization;
  j["quantization_config"] = quantization;
  return j;
}

}  // namespace

QuantMap write_quantized_model(const fs::path& in, const fs::path& out, const QuantSpec& spec,
                               mx::Dtype dtype) {
  const ModelSource source = resolve_model_source(in);
  check_paths(source, out);
  check_quant_spec(spec, "--bits/--group-size");
  Model m = load_model(in, mx::float32, spec);
  for (auto& [name, w] : m.weights) {
    if (mx::issubdtype(w.dtype(), mx::floating) && w.dtype() != dtype) w = mx::astype(w, dtype);
  }
  const nlohmann::json config =
      quantized_config(source.config_file, mlx_quantization_json(m.quantization, m.config));
  try {
    StagedDirectory staged(out);
    write_file_atomic(staged.path() / "config.json", config.dump(2) + "\n");
    save_safetensors(staged.path() / "model.safetensors", m.weights, {{"format", "mlx"}});
    for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                             "special_tokens_map.json", "generation_config.json"}) {
      if (fs::exists(in / name)) fs::copy_file(in / name, staged.path() / name);
    }
    staged.publish();
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorKind::Io, out.string(), fmt::format("could not write the model: {}", e.what()));
  }
  return m.quantization;
}

}  // namespace mlxft
