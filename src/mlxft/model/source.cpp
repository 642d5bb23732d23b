// Resolving a model path into its parts (see source.h).
#include "mlxft/model/source.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "mlxft/model/config.h"
#include "mlxft/model/shipped.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mlxft {
namespace {

// The JSON in `file`, or nothing when it is missing or unreadable (the loaders report those).
// A path that exists but is not a regular file (a FIFO, a directory) is refused here, unopened.
std::optional<json> read_json_if_present(const fs::path& file, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  check_regular_file(file, what);
  try {
    return read_untrusted_json(file, what, kMaxConfigJsonBytes);
  } catch (const Error&) {
    return std::nullopt;  // unreadable or not JSON: the loaders report it with the details
  }
}

std::optional<Quantization> quantization_of(const fs::path& config_file) {
  const auto config = read_json_if_present(config_file, "model's config.json");
  if (!config || !config->is_object()) return std::nullopt;
  const auto it = config->find("quantization");
  if (it == config->end() || !it->is_object()) return std::nullopt;
  // Only what the directory is; the values are checked (file and key named) when it loads.
  Quantization q;
  const auto small_int = [&](const char* key, int fallback) {
    const auto v = it->find(key);
    return v != it->end() && v->is_number_integer() && v->get<int64_t>() > 0 && v->get<int64_t>() <= 4096
               ? static_cast<int>(v->get<int64_t>())
               : fallback;
  };
  q.group_size = small_int("group_size", q.group_size);
  q.bits = small_int("bits", q.bits);
  return q;
}

std::optional<std::string> chat_template_of(const fs::path& tokenizer_config) {
  const auto config = read_json_if_present(tokenizer_config, "tokenizer_config.json");
  if (!config || !config->is_object()) return std::nullopt;
  const auto it = config->find("chat_template");
  if (it == config->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

ModelSource resolve_directory(const fs::path& dir) {
  ModelSource s;
  s.path = dir;
  s.config_file = dir / "config.json";
  if (fs::exists(dir / "model.safetensors.index.json"))
    s.weights_index = dir / "model.safetensors.index.json";
  const bool only_json = !fs::exists(dir / "tokenizer.model") && fs::exists(dir / "tokenizer.json");
  s.tokenizer_file = dir / (only_json ? "tokenizer.json" : "tokenizer.model");
  s.chat_template = chat_template_of(dir / "tokenizer_config.json");
  s.quantization = quantization_of(s.config_file);
  s.kind = s.quantization ? ModelSourceKind::MlxQuantizedDirectory : ModelSourceKind::HfDirectory;
  return s;
}

}  // namespace

const char* to_string(ModelSourceKind kind) {
  switch (kind) {
    case ModelSourceKind::HfDirectory: return "Hugging Face directory";
    case ModelSourceKind::GgufFile: return "GGUF file";
    case ModelSourceKind::MlxQuantizedDirectory: return "MLX-quantized directory";
  }
  return "unknown";
}

ModelSource resolve_model_source(const fs::path& path_or_name) {
  const fs::path path = resolve_model_path(path_or_name);
  std::error_code ec;
  if (fs::is_directory(path, ec)) return resolve_directory(path);
  if (fs::is_regular_file(path, ec) && path.extension() == ".gguf") {
    ModelSource s;
    s.kind = ModelSourceKind::GgufFile;
    s.path = s.config_file = s.tokenizer_file = path;
    return s;
  }
  throw Error(
      ErrorKind::Model, path.string(),
      fs::exists(path, ec) ? "is neither a model directory nor a .gguf file"
                           : "the model path does not exist",
      "pass a Hugging Face or MLX-quantized model directory (config.json, *.safetensors), a .gguf file or "
      "a shipped model name (shipped:smollm2-135m-instruct-q4_1)");
}

void require_supported_source(const ModelSource& /*source*/) {
  // Every kind loads now (load_model); kept as the one place a future unsupported kind is refused.
}

}  // namespace mlxft
