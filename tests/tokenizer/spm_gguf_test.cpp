// SentencePiece vocabularies stored in GGUF ("llama"): the Mistral v3 tokenizer.model written to a
// GGUF file as llama.cpp does (tokens, scores, token types, special ids), read back, rebuilt as a
// SentencePiece model and run by SentencePiece itself: ids identical to the original model's.
#include <gtest/gtest.h>
#include <mlx/io.h>
#include <mlx/ops.h>
#include <sentencepiece_processor.h>

#include "mlxft/tokenizer/spm_proto.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

int token_type(const sentencepiece::SentencePieceProcessor& sp, int id) {
  if (sp.IsUnknown(id)) return 2;
  if (sp.IsControl(id)) return 3;
  if (sp.IsUnused(id)) return 5;
  if (sp.IsByte(id)) return 6;
  return 1;
}

// The v3 tokenizer's vocabulary in a GGUF file with the keys llama.cpp's converter writes.
void write_llama_gguf(const sentencepiece::SentencePieceProcessor& sp, const std::string& path) {
  const int n = sp.GetPieceSize();
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (int id = 0; id < n; ++id) {
    tokens.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
    types.push_back(token_type(sp, id));
  }
  std::unordered_map<std::string, mx::GGUFMetaData> meta;
  meta["tokenizer.ggml.model"] = std::string("llama");
  meta["tokenizer.ggml.tokens"] = tokens;
  meta["tokenizer.ggml.scores"] = mx::array(scores.data(), {n}, mx::float32);
  meta["tokenizer.ggml.token_type"] = mx::array(types.data(), {n}, mx::int32);
  meta["tokenizer.ggml.bos_token_id"] = mx::array(uint32_t(sp.bos_id()));
  meta["tokenizer.ggml.eos_token_id"] = mx::array(uint32_t(sp.eos_id()));
  meta["tokenizer.ggml.unknown_token_id"] = mx::array(uint32_t(sp.unk_id()));
  mx::save_gguf(path, {{"dummy", mx::zeros({1}, mx::float32)}}, meta);
}

TEST(SpmGguf, RebuiltModelEncodesLikeTheOriginal) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "mistral-common's v3 tokenizer");
  sentencepiece::SentencePieceProcessor original;
  ASSERT_TRUE(original.Load(test::v3_tokenizer().string()).ok());
  test::TempDir dir;
  const std::string gguf = (dir / "v3.gguf").string();
  write_llama_gguf(original, gguf);

  GgufTokenizerVocab vocab = tokenizer_vocab_from_gguf(gguf);
  EXPECT_EQ(vocab.model, "llama");
  EXPECT_EQ(int(vocab.tokens.size()), original.GetPieceSize());
  EXPECT_EQ(vocab.bos_id, original.bos_id());
  sentencepiece::SentencePieceProcessor rebuilt;
  auto status = rebuilt.LoadFromSerializedProto(sentencepiece_model_from_gguf(vocab));
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(rebuilt.bos_id(), original.bos_id());
  EXPECT_EQ(rebuilt.eos_id(), original.eos_id());

  std::vector<std::string> texts;
  for (const auto& row : test::read_golden_ids(test::golden_dir() / "edge_cases.jsonl"))
    texts.push_back(row.text);
  if (auto seed = test::seed_dataset_any(); !seed.empty()) {
    auto seeds = test::seed_message_texts(seed);
    texts.insert(texts.end(), seeds.begin(), seeds.begin() + std::min<size_t>(seeds.size(), 300));
  }
  ASSERT_GT(texts.size(), 40u);
  size_t identical = 0;
  for (const auto& text : texts) {
    std::vector<int> a, b;
    ASSERT_TRUE(original.Encode(text, &a).ok());
    ASSERT_TRUE(rebuilt.Encode(text, &b).ok());
    EXPECT_EQ(a, b) << "text: " << text;
    identical += a == b;
  }
  EXPECT_EQ(identical, texts.size());
}

// llama.cpp's Gemma 3 GGUFs mark <unk> as a control token (type 3) and name it by
// tokenizer.ggml.unknown_token_id: that piece becomes SentencePiece's one UNKNOWN piece; a second
// type-2 piece becomes control, since SentencePiece refuses two.
TEST(SpmGguf, TheUnknownTokenIdMakesThatPieceTheUnknownOneWhateverItsType) {
  GgufTokenizerVocab vocab;
  vocab.model = "llama";
  vocab.source = "gemma.gguf";
  vocab.tokens = {"<pad>", "<eos>", "<bos>", "<unk>", "\xe2\x96\x81" "a", "b", "<odd>"};
  vocab.scores = {0, 0, 0, 0, -1, -2, 0};
  vocab.token_types = {3, 3, 3, 3, 1, 1, 2};
  vocab.bos_id = 2;
  vocab.eos_id = 1;
  vocab.unk_id = 3;
  sentencepiece::SentencePieceProcessor sp;
  auto status = sp.LoadFromSerializedProto(sentencepiece_model_from_gguf(vocab));
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(sp.unk_id(), 3);
  EXPECT_TRUE(sp.IsUnknown(3));
  EXPECT_TRUE(sp.IsControl(6));
  vocab.unk_id = -1;  // no id: the first type-2 piece
  ASSERT_TRUE(sp.LoadFromSerializedProto(sentencepiece_model_from_gguf(vocab)).ok());
  EXPECT_EQ(sp.unk_id(), 6);
}

TEST(SpmGguf, VocabularyWithoutUnknownTokenIsRefused) {
  GgufTokenizerVocab vocab;
  vocab.model = "llama";
  vocab.source = "x.gguf";
  vocab.tokens = {"a", "b"};
  vocab.token_types = {1, 1};
  EXPECT_THROW(sentencepiece_model_from_gguf(vocab), Error);
  vocab.model = "gpt2";
  EXPECT_THROW(sentencepiece_model_from_gguf(vocab), Error);
}

}  // namespace
}  // namespace mlxft
