// The chat-format factory (see chat_format.h).
#include "mlxft/chat/chat_format.h"

#include <fmt/format.h>

#include "mlxft/chat/mistral_v3.h"
#include "mlxft/util/error.h"

namespace mlxft {

const std::vector<std::string>& chat_format_names() {
  static const std::vector<std::string> names = {"mistral_v3"};
  return names;
}

std::unique_ptr<ChatFormat> make_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                             const std::string& where) {
  if (name == "mistral_v3") return std::make_unique<MistralV3Format>(tokenizer);
  throw Error(ErrorKind::Config, where, fmt::format("unknown chat format '{}'", name),
              fmt::format("use one of: {}", fmt::join(chat_format_names(), ", ")));
}

}  // namespace mlxft
