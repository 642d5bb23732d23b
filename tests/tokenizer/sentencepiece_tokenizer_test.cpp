#include "mlxft/tokenizer/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

using mlxft::SentencePieceTokenizer;

TEST(SentencePieceTokenizer, LoadsRealV3VocabAndControlTokens) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(mlxft::test::v3_tokenizer());
  EXPECT_EQ(tok.vocab_size(), 32768);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.require_control_id("[INST]"), 3);
  EXPECT_EQ(tok.require_control_id("[/INST]"), 4);
  EXPECT_EQ(tok.require_control_id("[TOOL_CALLS]"), 5);
  EXPECT_EQ(tok.require_control_id("[AVAILABLE_TOOLS]"), 6);
  EXPECT_EQ(tok.require_control_id("[/AVAILABLE_TOOLS]"), 7);
  EXPECT_EQ(tok.require_control_id("[TOOL_RESULTS]"), 8);
  EXPECT_EQ(tok.require_control_id("[/TOOL_RESULTS]"), 9);
  EXPECT_TRUE(tok.is_control(750));
  EXPECT_FALSE(tok.is_control(751));
  EXPECT_FALSE(tok.control_id("hello").has_value());
}

TEST(SentencePieceTokenizer, TextThatLooksLikeControlTokensStaysText) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(mlxft::test::v3_tokenizer());
  const auto ids = tok.encode("[INST] hi [/INST]");
  for (int32_t id : ids) EXPECT_FALSE(tok.is_control(id)) << "id " << id;
  EXPECT_EQ(tok.decode(ids), "[INST] hi [/INST]");
}

TEST(SentencePieceTokenizer, NewlineIsByteTokenAndSegmentGetsDummyPrefix) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(mlxft::test::v3_tokenizer());
  const auto ids = tok.encode("a\nb");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(tok.piece(ids[0]).rfind("\xE2\x96\x81", 0), 0u);  // leading U+2581
  bool has_newline_byte = false;
  for (int32_t id : ids) has_newline_byte |= (id == 781);
  EXPECT_TRUE(has_newline_byte);
}

TEST(SentencePieceTokenizer, MissingOrInvalidFileIsAClearModelError) {
  mlxft::test::TempDir dir;
  try {
    SentencePieceTokenizer::load(dir / "nope.model");
    FAIL() << "expected an error";
  } catch (const mlxft::Error& e) {
    EXPECT_EQ(e.kind(), mlxft::ErrorKind::Model);
    EXPECT_NE(std::string(e.what()).find("nope.model"), std::string::npos);
  }
  mlxft::test::write_file(dir / "bad.model", "this is not a sentencepiece model");
  EXPECT_THROW(SentencePieceTokenizer::load(dir / "bad.model"), mlxft::Error);
}

TEST(SentencePieceTokenizer, TheFactoryPicksItForAModelFileAndNamesTheFileInErrors) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = mlxft::load_tokenizer(mlxft::test::v3_tokenizer());
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->source(), mlxft::test::v3_tokenizer().string());
  EXPECT_EQ(tok->encode("Hello"), SentencePieceTokenizer::load(mlxft::test::v3_tokenizer()).encode("Hello"));
  try {
    (void)tok->require_control_id("<|im_start|>");
    FAIL() << "expected an error";
  } catch (const mlxft::Error& e) {
    EXPECT_EQ(e.kind(), mlxft::ErrorKind::Model);
    EXPECT_EQ(e.where(), mlxft::test::v3_tokenizer().string());
  }
}

TEST(TokenizerFactory, RecognisesTheFileKinds) {
  EXPECT_EQ(mlxft::tokenizer_file_kind("m/tokenizer.model"), mlxft::TokenizerFileKind::SentencePiece);
  EXPECT_EQ(mlxft::tokenizer_file_kind("m/tokenizer.json"), mlxft::TokenizerFileKind::HfTokenizerJson);
  EXPECT_EQ(mlxft::tokenizer_file_kind("m.Q4_K_M.gguf"), mlxft::TokenizerFileKind::Gguf);
  mlxft::test::TempDir dir;
  mlxft::test::write_file(dir / "tokenizer.json", "{}");
  EXPECT_THROW((void)mlxft::load_tokenizer(dir / "tokenizer.json"), mlxft::Error);
}
