// Turning generated ids into text piece by piece, for streaming.
//
// Contract: push(id) returns the text that the ids so far add to what was
// already returned; the concatenation of every push() equals
// tokenizer.decode(all ids). Text is held back while the ids end inside a
// multi-byte UTF-8 character (byte-fallback pieces), so what is returned is
// always whole characters. Control ids decode to nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

class TextStream {
 public:
  explicit TextStream(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int32_t id);

 private:
  const Tokenizer& tokenizer_;
  std::vector<int32_t> ids_;
  std::string emitted_;
};

}  // namespace mlxft
