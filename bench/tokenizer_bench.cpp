// Byte-level BPE throughput on the message texts of a JSONL dataset (seed format "conversations" or
// "messages"): MB/s of UTF-8 text in, tokens/s out, first pass (empty merge cache) and warm passes,
// and the pre-tokenizer alone. Prints numbers, asserts nothing.
// usage: tokenizer_bench MODEL.gguf|tokenizer.json DATA.jsonl [passes]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mlxft/tokenizer/bpe_load.h"

namespace {

std::vector<std::string> message_texts(const char* path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto record = nlohmann::json::parse(line);
    for (const char* key : {"conversations", "messages"})
      for (const auto& m : record.value(key, nlohmann::json::array()))
        if (m.contains("content") && m["content"].is_string())
          texts.push_back(m["content"].get<std::string>());
  }
  return texts;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf|tokenizer.json DATA.jsonl [passes]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  const int passes = argc > 3 ? std::atoi(argv[3]) : 5;
  auto start = std::chrono::steady_clock::now();
  mlxft::BpeVocab vocab = model.ends_with(".json")
                              ? mlxft::bpe_vocab_from_tokenizer_json(model)
                              : mlxft::bpe_vocab_from_gguf(mlxft::tokenizer_vocab_from_gguf(model));
  mlxft::BpeTokenizer tokenizer(std::move(vocab));
  std::printf("load: %.3f s (%d tokens)\n", seconds_since(start), tokenizer.vocab_size());
  const auto texts = message_texts(argv[2]);
  size_t bytes = 0;
  for (const auto& t : texts) bytes += t.size();
  std::printf("input: %zu texts, %.2f MB\n", texts.size(), bytes / 1e6);

  mlxft::PreTokenizer pre(tokenizer.vocab().pretokenizer, model);
  start = std::chrono::steady_clock::now();
  size_t pieces = 0;
  std::vector<mlxft::TextSpan> spans;
  for (const auto& t : texts) {
    spans.clear();
    pre.split(t, {0, uint32_t(t.size())}, spans);
    pieces += spans.size();
  }
  double s = seconds_since(start);
  std::printf("pre-tokenizer only: %.1f MB/s (%zu pieces)\n", bytes / 1e6 / s, pieces);
  for (int pass = 0; pass < passes; ++pass) {
    start = std::chrono::steady_clock::now();
    size_t tokens = 0;
    for (const auto& t : texts) tokens += tokenizer.encode(t).size();
    s = seconds_since(start);
    std::printf("encode pass %d%s: %.1f MB/s, %.2f M tokens/s (%zu tokens, %.3f s)\n", pass + 1,
                pass == 0 ? " (cold cache)" : "", bytes / 1e6 / s, tokens / 1e6 / s, tokens, s);
  }
  return 0;
}
