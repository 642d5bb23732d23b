// libFuzzer target: any bytes as a tokenizer.json (and, after a "\n--8<--\n" line, as the
// tokenizer_config.json beside it), then encoding a fixed text and the input itself with whatever
// loads. Loading must throw mlxft::Error or give a tokenizer whose every id is in range; the
// pre-tokenizer's regex (from the file) must fail with mlxft::Error rather than hang (PCRE2's match,
// depth and heap limits).
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/bpe_tokenizer.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [tokenizer, config] = mlxft::fuzz::split_input(data, size);
  const auto dir = mlxft::fuzz::scratch_dir() / "tok";
  std::filesystem::create_directories(dir);
  const auto file = mlxft::fuzz::write_scratch("tok/tokenizer.json",
                                               reinterpret_cast<const uint8_t*>(tokenizer.data()), tokenizer.size());
  if (config.empty()) {
    std::filesystem::remove(dir / "tokenizer_config.json");
  } else {
    mlxft::fuzz::write_scratch("tok/tokenizer_config.json", reinterpret_cast<const uint8_t*>(config.data()),
                               config.size());
  }
  try {
    const mlxft::BpeTokenizer t(mlxft::bpe_vocab_from_tokenizer_json(file));
    for (const std::string& text : {std::string("Hello world! 123 <|im_end|> \xc3\xa9\n\n  x"), tokenizer}) {
      for (const int32_t id : t.encode(text.substr(0, 4096))) {
        if (id < 0 || id >= t.vocab_size()) std::abort();
      }
    }
  } catch (const mlxft::Error&) {
  }
  return 0;
}
