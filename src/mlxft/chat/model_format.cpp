// A model's chat format from its files (see model_format.h).
#include "mlxft/chat/model_format.h"

#include <fmt/format.h>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"

namespace mlxft {

std::string model_chat_template(const ModelSource& source) {
  if (source.chat_template) return *source.chat_template;
  if (tokenizer_file_kind(source.tokenizer_file) == TokenizerFileKind::Gguf)
    return tokenizer_vocab_from_gguf(source.tokenizer_file).chat_template;
  return {};
}

std::unique_ptr<ChatFormat> chat_format_for_model(std::string_view name, const Tokenizer& tokenizer,
                                                  const ModelSource& source, const std::string& where) {
  if (name != "auto") return make_chat_format(name, tokenizer, where);
  return resolve_chat_format(name, tokenizer, model_chat_template(source), where);
}

void check_tokenizer_fits_model(const Tokenizer& tokenizer, const ModelConfig& config,
                                const std::filesystem::path& tokenizer_file) {
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error(ErrorKind::Model, tokenizer_file.string(),
                fmt::format("tokenizer has {} tokens but the model's vocab_size is {} (its embedding's rows): "
                            "ids past {} would read outside it",
                            tokenizer.vocab_size(), config.vocab_size, config.vocab_size - 1),
                "use the tokenizer that belongs to this model");
  }
}

}  // namespace mlxft
