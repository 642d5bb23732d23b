// The parts of the tokenizer seam every implementation shares (see tokenizer.h).
#include "mlxft/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include "mlxft/util/error.h"

namespace mlxft {

int32_t Tokenizer::require_control_id(std::string_view text) const {
  if (auto id = control_id(text)) return *id;
  throw Error(ErrorKind::Model, source(), fmt::format("tokenizer has no control token {}", text),
              "use the tokenizer of a model made for this chat format (Mistral v3: the tokenizer.model "
              "of Mistral-7B-Instruct-v0.3)");
}

}  // namespace mlxft
