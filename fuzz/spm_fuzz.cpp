// libFuzzer target: any bytes as a SentencePiece tokenizer.model, then encoding a fixed text. Loading
// must throw mlxft::Error or give ids in range.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string proto(reinterpret_cast<const char*>(data), size);
  try {
    const auto t = mlxft::SentencePieceTokenizer::from_serialized(proto, "fuzz/tokenizer.model");
    for (const int32_t id : t.encode("Hello world! 123 \xc3\xa9\n")) {
      if (id < 0 || id >= t.vocab_size()) std::abort();
    }
  } catch (const mlxft::Error&) {
  }
  return 0;
}
