// Ollama Modelfiles (see modelfile.h).
#include "mlxft/export/modelfile.h"

#include <fmt/format.h>

#include "mlxft/chat/chat_format.h"
#include "mlxft/chat/model_format.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

std::string path_from(const fs::path& modelfile, const fs::path& file) {
  const fs::path dir = fs::absolute(modelfile).parent_path();
  if (fs::absolute(file).parent_path() == dir) return "./" + file.filename().string();
  return fs::absolute(file).lexically_normal().string();
}

// The model's chat format's TEMPLATE and stop lines (chat/chat_format.h ollama_template()).
std::string template_lines(const ModelSource& source) {
  try {
    const auto tok = load_tokenizer(source.tokenizer_file);
    const auto chat = resolve_chat_format("auto", *tok, model_chat_template(source), "Modelfile");
    const OllamaTemplate t = chat->ollama_template();
    std::string out = fmt::format("TEMPLATE \"\"\"{}\"\"\"\n", t.text);
    for (const std::string& stop : t.stops) out += fmt::format("PARAMETER stop \"{}\"\n", stop);
    return out;
  } catch (const Error& e) {
    return "# no chat format recognised in the model (" + std::string(e.what()) + "): add a TEMPLATE\n";
  }
}

}  // namespace

fs::path modelfile_path(const fs::path& gguf) {
  fs::path p = gguf;
  if (p.extension() == ".gguf") p.replace_extension();
  return p.string() + ".Modelfile";
}

fs::path write_modelfile(const fs::path& gguf, const fs::path& from, const fs::path& adapter,
                         const ModelSource& source) {
  const fs::path file = modelfile_path(gguf);
  std::string text =
      "# Ollama Modelfile written by mlxft: ollama create NAME -f " + file.filename().string() + "\n";
  text += "FROM " + path_from(file, from) + "\n";
  if (!adapter.empty()) text += "ADAPTER " + path_from(file, adapter) + "\n";
  text += template_lines(source);
  write_file_atomic(file, text);
  return file;
}

}  // namespace mlxft
