// The chat-format factory and the recognition of a model's chat template (see chat_format.h).
#include "mlxft/chat/chat_format.h"

#include <fmt/format.h>

#include "mlxft/chat/chatml.h"
#include "mlxft/chat/mistral_v3.h"
#include "mlxft/util/error.h"

namespace mlxft {

const std::vector<std::string>& chat_format_names() {
  static const std::vector<std::string> names = {"mistral-v3", "chatml"};
  return names;
}

const std::vector<std::string>& chat_format_choice_names() {
  static const std::vector<std::string> names = {"auto", "mistral-v3", "chatml"};
  return names;
}

std::unique_ptr<ChatFormat> make_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                             const std::string& where) {
  if (name == "mistral-v3" || name == "mistral_v3") return std::make_unique<MistralV3Format>(tokenizer);
  if (name == "chatml") return std::make_unique<ChatMlFormat>(tokenizer);
  throw Error(ErrorKind::Config, where, fmt::format("unknown chat format '{}'", name),
              fmt::format("use one of: {}", fmt::join(chat_format_names(), ", ")));
}

std::string detect_chat_format(const std::string& chat_template, const Tokenizer& tokenizer,
                               const std::string& where) {
  const auto has = [&](const char* s) { return chat_template.find(s) != std::string::npos; };
  if (has("<|im_start|>") && tokenizer.control_id("<|im_start|>") && tokenizer.control_id("<|im_end|>"))
    return "chatml";
  if (has("[INST]")) return "mistral-v3";
  if (chat_template.empty() && tokenizer.kind() == "sentencepiece" && tokenizer.control_id("[INST]") &&
      tokenizer.control_id("[/INST]"))
    return "mistral-v3";
  const std::string what =
      chat_template.empty()
          ? fmt::format("the model has no chat template and its tokenizer ({}) has no [INST] control tokens",
                        tokenizer.source())
          : fmt::format(
                "the model's chat template is not one mlxft recognises (it has neither "
                "<|im_start|> nor [INST]): \"{}\"",
                chat_template.substr(0, 120));
  throw Error(
      ErrorKind::Config, where, what,
      fmt::format("set the chat format explicitly to one of: {}", fmt::join(chat_format_names(), ", ")));
}

std::unique_ptr<ChatFormat> resolve_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                                const std::string& chat_template, const std::string& where) {
  if (name == "auto")
    return make_chat_format(detect_chat_format(chat_template, tokenizer, where), tokenizer, where);
  return make_chat_format(name, tokenizer, where);
}

}  // namespace mlxft
