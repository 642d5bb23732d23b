// Choosing a model's chat format from its files: the recipe's data.chat_format or a
// --chat-format flag ("auto" or a name from chat_format_names()), the model source and its
// tokenizer.
//
// Contract:
// - model_chat_template(source) is the model's own chat template: tokenizer_config.json's
//   chat_template for a Hugging Face directory, the tokenizer.chat_template key for a GGUF file;
//   "" when it has none. A GGUF that cannot be read is a Model error naming it.
// - chat_format_for_model(name, tokenizer, source, where): the named format, or for "auto" the
//   format detect_chat_format() recognises in the model's template; errors are Config errors
//   naming `where` and listing the supported formats.
// - check_tokenizer_fits_model(tokenizer, config, tokenizer_file): every id the tokenizer can produce
//   indexes the model's embedding (its vocabulary is no larger than vocab_size); a Model error naming
//   the tokenizer file otherwise. train, generate and eval all call it before any token reaches the
//   model, so a foreign tokenizer cannot gather outside the embedding table.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mlxft/chat/chat_format.h"
#include "mlxft/model/config.h"
#include "mlxft/model/source.h"

namespace mlxft {

std::string model_chat_template(const ModelSource& source);

void check_tokenizer_fits_model(const Tokenizer& tokenizer, const ModelConfig& config,
                                const std::filesystem::path& tokenizer_file);

std::unique_ptr<ChatFormat> chat_format_for_model(std::string_view name, const Tokenizer& tokenizer,
                                                  const ModelSource& source, const std::string& where);

}  // namespace mlxft
