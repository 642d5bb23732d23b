// generate and eval share their model loading (src/cli/model_session.h): a tokenizer whose vocabulary
// is larger than the model's is refused by both, before any token could index past the embedding.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace {

const std::string kSmallVocabModel = (mlxft::test::source_dir() / "tests/golden/hf_tiny/mistral").string();

}  // namespace

TEST(ModelSession, GenerateRefusesATokenizerLargerThanTheModelVocab) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto r = mlxft::test::run_mlxft("generate --model " + kSmallVocabModel + " --tokenizer " +
                                        mlxft::test::v3_tokenizer().string() + " --prompt hi --max-tokens 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tokenizer has 32768 tokens but the model's vocab_size is 1024"), std::string::npos)
      << r.output;
}

TEST(ModelSession, EvalRefusesATokenizerLargerThanTheModelVocab) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  mlxft::test::write_file(dir / "d.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
  const auto r = mlxft::test::run_mlxft("eval --model " + kSmallVocabModel + " --tokenizer " +
                                        mlxft::test::v3_tokenizer().string() + " --data " +
                                        (dir / "d.jsonl").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tokens but the model's vocab_size is 1024"), std::string::npos) << r.output;
}
