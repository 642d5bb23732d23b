#include "tokenizer/bpe_test_support.h"

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "mlxft/tokenizer/bpe_load.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft::test {

fs::path smollm2_gguf() {
  const fs::path p = MLXFT_SMOLLM2_GGUF;
  return !p.empty() && fs::exists(p) ? p : fs::path();
}

const BpeTokenizer* smollm2_tokenizer() {
  static const std::unique_ptr<BpeTokenizer> tokenizer = []() -> std::unique_ptr<BpeTokenizer> {
    if (smollm2_gguf().empty()) return nullptr;
    return std::make_unique<BpeTokenizer>(bpe_vocab_from_gguf(tokenizer_vocab_from_gguf(smollm2_gguf())));
  }();
  return tokenizer.get();
}

fs::path seed_dataset_any() {
  if (fs::path p = seed_dataset(); !p.empty()) return p;
  const char* env = std::getenv("MLXFT_SEED_DATASET");
  return env && fs::exists(env) ? fs::path(env) : fs::path();
}

std::vector<std::string> seed_message_texts(const fs::path& seed) {
  std::vector<std::string> texts;
  std::ifstream in(seed);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto record = nlohmann::json::parse(line);
    for (const auto& message : record.value("conversations", nlohmann::json::array()))
      if (message.contains("content") && message["content"].is_string())
        texts.push_back(message["content"].get<std::string>());
  }
  return texts;
}

std::vector<GoldenIds> read_golden_ids(const fs::path& jsonl) {
  std::vector<GoldenIds> rows;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto row = nlohmann::json::parse(line);
    rows.push_back({row["text"].get<std::string>(), row["ids"].get<std::vector<int32_t>>()});
  }
  return rows;
}

fs::path golden_dir() {
  return source_dir() / "tests" / "golden" / "bpe";
}

BpeVocab tiny_vocab() {
  BpeVocab v;
  v.source = "tiny-vocab";
  for (const auto& ch : byte_to_unicode()) v.tokens.push_back(ch);
  v.merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"a", "a"}, {"Ġ", "w"}};
  for (const auto& [l, r] : v.merges) v.tokens.push_back(l + r);
  v.kinds.assign(v.tokens.size(), BpeTokenKind::Normal);
  v.tokens.push_back("<|im_start|>");
  v.kinds.push_back(BpeTokenKind::Special);
  v.tokens.push_back("<|im_end|>");
  v.kinds.push_back(BpeTokenKind::Special);
  v.tokens.push_back("<tool_call>");
  v.kinds.push_back(BpeTokenKind::UserDefined);
  v.pretokenizer = {kGpt2Pattern};
  v.eos_id = int32_t(v.tokens.size()) - 2;
  return v;
}

}  // namespace mlxft::test
