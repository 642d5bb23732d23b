// libFuzzer target: any bytes through byte-level BPE (SmolLM2's GGUF vocabulary when installed, and
// a small tokenizer.json with the qwen2 pre-tokenizer and a user-defined token). Checks that
// encoding never throws or crashes, that every id and byte range is in bounds and never a special
// token, and that decode(encode(x)) == x whenever every byte of x has a token: always for the small
// tokenizer.json (all 256 bytes, so any bytes, valid UTF-8 or not); for SmolLM2 all valid UTF-8 but
// for a few control bytes and 0xF1/0xF2 that its vocabulary lacks (see bpe_tokenizer.h).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/tokenizer/bpe_load.h"

namespace {

std::vector<std::unique_ptr<mlxft::BpeTokenizer>> load_tokenizers() {
  std::vector<std::unique_ptr<mlxft::BpeTokenizer>> out;
  const std::filesystem::path tiny =
      std::filesystem::path(MLXFT_SOURCE_DIR) / "tests/golden/bpe/tiny_qwen2/tokenizer.json";
  out.push_back(std::make_unique<mlxft::BpeTokenizer>(mlxft::bpe_vocab_from_tokenizer_json(tiny)));
  const std::filesystem::path smollm2 = MLXFT_SMOLLM2_GGUF;
  if (!smollm2.empty() && std::filesystem::exists(smollm2))
    out.push_back(std::make_unique<mlxft::BpeTokenizer>(
        mlxft::bpe_vocab_from_gguf(mlxft::tokenizer_vocab_from_gguf(smollm2))));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = load_tokenizers();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& t : tokenizers) {
    std::vector<int32_t> ids;
    for (const auto& p : t->encode_with_offsets(text)) {
      if (p.id < 0 || p.id >= t->vocab_size() || t->is_control(p.id) || p.begin >= p.end || p.end > size) {
        std::fprintf(stderr, "bad piece: id %d [%u, %u) of %zu bytes (%s)\n", p.id, p.begin, p.end, size,
                     t->source().c_str());
        std::abort();
      }
      ids.push_back(p.id);
    }
    if (std::all_of(text.begin(), text.end(),
                    [&](char c) { return t->has_byte_token(static_cast<unsigned char>(c)); })) {
      if (const std::string back = t->decode(ids); back != text) {
        std::fprintf(stderr, "round trip differs (%s): %zu bytes in, %zu out\n", t->source().c_str(), size,
                     back.size());
        std::abort();
      }
    }
  }
  return 0;
}
