// Loading a Model from any model source (see llama.h and source.h).
#include <nlohmann/json.hpp>

#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

nlohmann::json read_config_json(const fs::path& file) {
  return read_untrusted_json(file, "model's config.json", kMaxConfigJsonBytes);
}

// An mlx-community directory: the quantization map first (config.json + which .scales exist), then
// the weights checked against it.
void load_quantized_directory(Model& m, const ModelSource& s) {
  const std::set<std::string> names = stored_tensor_names(s.path);
  const auto has_scales = [&](const std::string& module) { return names.count(module + ".scales") > 0; };
  m.quantization =
      mlx_quantization(read_config_json(s.config_file), m.config, has_scales, s.config_file.string());
  m.weights = load_weights(s.path, m.config, m.quantization);
}

// Float weights to the compute dtype; packed weights, scales and biases stay as stored.
void cast_floats(Model& m) {
  for (auto& [name, w] : m.weights) {
    if (w.dtype() == m.dtype || name.ends_with(".scales") || name.ends_with(".biases")) continue;
    if (!mx::issubdtype(w.dtype(), mx::floating)) continue;
    w = mx::astype(w, m.dtype);
  }
}

}  // namespace

Model load_model(const fs::path& path, std::optional<mx::Dtype> dtype, std::optional<QuantSpec> quantize) {
  const ModelSource source = resolve_model_source(path);  // a shipped name becomes its file
  Model m;
  m.dir = source.path;
  m.dtype = dtype.value_or(default_compute_dtype());
  if (source.kind == ModelSourceKind::GgufFile) {
    GgufModel g = load_gguf_model(source.path);
    m.config = std::move(g.config);
    m.weights = std::move(g.weights);
    m.quantization = std::move(g.quantization);
  } else {
    m.config = ModelConfig::from_file(source.config_file);
    if (source.kind == ModelSourceKind::MlxQuantizedDirectory) {
      load_quantized_directory(m, source);
    } else {
      m.weights = load_weights(source.path, m.config);
    }
  }
  cast_floats(m);
  if (quantize) {
    for (const auto& [module, spec] : quantize_weights(m.weights, m.config, *quantize))
      m.quantization.insert_or_assign(module, spec);
  }
  std::vector<mx::array> all;
  for (const auto& [name, w] : m.weights) all.push_back(w);
  mx::eval(all);
  return m;
}

}  // namespace mlxft
