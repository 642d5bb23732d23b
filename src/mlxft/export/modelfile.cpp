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

// ChatML: a system turn when there is one, every message, then the assistant's turn opened.
constexpr const char* kChatmlTemplate =
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n";

// Mistral v3: [INST] user [/INST] assistant</s>, the system prompt before the last user message.
constexpr const char* kMistralTemplate =
    "{{- range $i, $_ := .Messages }}"
    "{{- if eq .Role \"user\" }}[INST] {{ if and $.System (eq (len (slice $.Messages $i)) 1) }}{{ $.System "
    "}}\n\n"
    "{{ end }}{{ .Content }}[/INST]"
    "{{- else if eq .Role \"assistant\" }} {{ .Content }}</s>"
    "{{- end }}{{- end }}";

std::string path_from(const fs::path& modelfile, const fs::path& file) {
  const fs::path dir = fs::absolute(modelfile).parent_path();
  if (fs::absolute(file).parent_path() == dir) return "./" + file.filename().string();
  return fs::absolute(file).lexically_normal().string();
}

std::string template_lines(const ModelSource& source) {
  try {
    const auto tok = load_tokenizer(source.tokenizer_file);
    const auto chat = resolve_chat_format("auto", *tok, model_chat_template(source), "Modelfile");
    const std::string name = chat->name();
    if (name != "chatml" && name != "mistral-v3")
      return "# chat format " + name + ": no Ollama template known\n";
    std::string out =
        fmt::format("TEMPLATE \"\"\"{}\"\"\"\n", name == "chatml" ? kChatmlTemplate : kMistralTemplate);
    for (int32_t id : chat->stop_ids()) out += fmt::format("PARAMETER stop \"{}\"\n", tok->piece(id));
    if (name == "mistral-v3") out += "PARAMETER stop \"[INST]\"\n";
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
