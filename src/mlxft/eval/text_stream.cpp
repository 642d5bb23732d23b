// Incremental decoding (see text_stream.h).
#include "mlxft/eval/text_stream.h"

namespace mlxft {

std::string TextStream::push(int32_t id) {
  ids_.push_back(id);
  const std::string text = tokenizer_.decode(ids_);
  // SentencePiece decodes an incomplete UTF-8 byte sequence to U+FFFD: wait for the rest.
  static const std::string kReplacement = "\xEF\xBF\xBD";
  if (text.size() >= kReplacement.size() &&
      text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0) {
    return {};
  }
  // Decoding is prefix-stable once characters are complete; if it ever is not, emit nothing
  // rather than repeat or garble text.
  if (text.size() < emitted_.size() || text.compare(0, emitted_.size(), emitted_) != 0) return {};
  std::string added = text.substr(emitted_.size());
  emitted_ = text;
  return added;
}

}  // namespace mlxft
