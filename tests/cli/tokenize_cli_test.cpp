// `mlxft tokenize` on SmolLM2's GGUF: ids identical to Hugging Face `tokenizers` (the edge-case
// goldens of scripts/reference/hf_tokenize.py), no special token added or produced from text,
// decode round trip, and the usage errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

using namespace mlxft;

namespace {

std::string model_arg() {
  return " --model '" + test::smollm2_gguf().string() + "'";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(TokenizeCli, InputFileGivesTheReferenceIdsPerLineAndDecodesBack) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const auto goldens = test::read_golden_ids(test::golden_dir() / "edge_cases.jsonl");
  ASSERT_GT(goldens.size(), 40u);
  test::TempDir dir;
  std::string input = "\n";  // a blank line is skipped
  for (const auto& g : goldens) input += nlohmann::json(g.text).dump() + "\n";
  test::write_file(dir / "in.jsonl", input);
  const std::string io = " --input '" + (dir / "in.jsonl").string() + "' --out '";
  auto r = test::run_mlxft("tokenize" + model_arg() + io + (dir / "ids.jsonl").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = lines_of(test::read_file(dir / "ids.jsonl"));
  ASSERT_EQ(lines.size(), goldens.size());
  for (size_t i = 0; i < goldens.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(lines[i]).get<std::vector<int32_t>>(), goldens[i].ids) << goldens[i].text;
  }
  r = test::run_mlxft("tokenize --decode" + model_arg() + io + (dir / "dec.jsonl").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto decoded = lines_of(test::read_file(dir / "dec.jsonl"));
  ASSERT_EQ(decoded.size(), goldens.size());
  for (size_t i = 0; i < goldens.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(decoded[i])["text"].get<std::string>(), goldens[i].text);
  }
}

TEST(TokenizeCli, TextPrintsIdsAndSpecialTokensStayText) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const auto& tok = *test::smollm2_tokenizer();
  const std::string text = "<|im_start|>user 12";
  const auto r = test::run_mlxft("tokenize" + model_arg() + " --text '" + text + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ids = nlohmann::json::parse(lines_of(r.output).front()).get<std::vector<int32_t>>();
  EXPECT_EQ(ids, tok.encode(text));
  for (int32_t id : ids) EXPECT_FALSE(tok.is_control(id)) << id;
}

TEST(TokenizeCli, UsageErrors) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  test::TempDir dir;
  EXPECT_EQ(test::run_mlxft("tokenize" + model_arg()).exit_code, 2);  // nothing to tokenize
  test::write_file(dir / "bad.jsonl", "\"ok\"\n[1, 2]\n");
  const auto r = test::run_mlxft("tokenize" + model_arg() + " --input '" + (dir / "bad.jsonl").string() +
                                 "' --out '" + (dir / "o.jsonl").string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.jsonl:2"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o.jsonl"));
}
