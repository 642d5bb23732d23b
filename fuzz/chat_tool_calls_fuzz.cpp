// libFuzzer target: any bytes as a model's output, through every chat format's tool-call parser
// (parse_tool_calls: the native calls, else the seed's plain text). Must never throw or crash, and
// every call has a name and object arguments.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>

#include "mlxft/chat/chat_format.h"
#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/bpe_tokenizer.h"

namespace {

const mlxft::Tokenizer& tokenizer() {
  static const mlxft::BpeTokenizer t(mlxft::bpe_vocab_from_tokenizer_json(
      std::filesystem::path(MLXFT_SOURCE_DIR) / "tests/golden/bpe/tiny_qwen2/tokenizer.json"));
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto formats = [] {
    std::vector<std::unique_ptr<mlxft::ChatFormat>> out;
    for (const auto& name : mlxft::chat_format_names()) out.push_back(mlxft::make_chat_format(name, tokenizer()));
    return out;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& f : formats) {
    for (const auto& call : f->parse_tool_calls(text).calls) {
      if (!call.arguments.is_object()) std::abort();
    }
  }
  return 0;
}
