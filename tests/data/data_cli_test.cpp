// `mlxft data check` and `mlxft data render` end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

using namespace mlxft;

namespace {

std::string tok_arg() {
  return " --tokenizer '" + test::v3_tokenizer().string() + "'";
}

const std::string kRecord =
    R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo."}]})";

}  // namespace

TEST(DataCli, RenderWritesIdsAndMaskPerUsableExampleInInputOrder) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  test::write_file(dir / "d.jsonl",
                   kRecord + "\nbroken\n" +
                       R"({"messages": [{"role": "user", "content": "A"}, {"role": "assistant", )"
                       R"("content": "B"}], "label": false})" +
                       "\n" + kRecord + "\n");
  const auto r =
      test::run_mlxft("data render --data '" + (dir / "d.jsonl").string() + "'" + tok_arg() +
                      " --min-examples 1 --max-bad-fraction 0.5 --out '" + (dir / "o.jsonl").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(test::read_file(dir / "o.jsonl"));
  std::string line;
  std::vector<int64_t> indices;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    indices.push_back(j["index"].get<int64_t>());
    ASSERT_EQ(j["ids"].size(), j["mask"].size());
    EXPECT_EQ(j["ids"][0], 1);
    EXPECT_EQ(j["mask"][0], 0);
    EXPECT_TRUE(j["label"].is_null());
    // <s> [INST] ▁Hi [/INST] ▁Yo . </s>: only the assistant's tokens and </s> are 1.
    const auto& mask = j["mask"];
    EXPECT_EQ(mask.back(), 1);
    EXPECT_EQ(j["ids"].back(), 2);
  }
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 3}));  // line 1 broken, line 2 undesirable
  EXPECT_NE(r.output.find(":2: skipped: invalid JSON"), std::string::npos) << r.output;
}

TEST(DataCli, CheckReportsAndFailsOnUnusableData) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  test::write_file(dir / "d.jsonl", kRecord + "\n" + kRecord + "\n");
  auto r = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "'" + tok_arg());
  EXPECT_NE(r.exit_code, 0);  // 2 usable < 100
  EXPECT_NE(r.output.find("records:    2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("duplicates: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("only 2 usable examples"), std::string::npos) << r.output;
  r = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "'" + tok_arg() +
                      " --min-examples 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok: the data is usable"), std::string::npos) << r.output;
  r = test::run_mlxft("data check --data '" + (dir / "nope.jsonl").string() + "'" + tok_arg());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
}

// The flag reads the same name table as recipes: "claude" is the conversations format.
TEST(DataCli, FormatFlagAcceptsClaudeAsRecipesDo) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  test::write_file(dir / "d.jsonl",
                   R"({"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", )"
                   R"("content": "Yo."}], "label": true})"
                   "\n");
  const auto r = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "'" + tok_arg() +
                                 " --format claude --min-examples 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto bad = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "'" + tok_arg() +
                                   " --format alpaca --min-examples 1");  // not a format mlxft reads
  EXPECT_NE(bad.exit_code, 0);
}

// SmolLM2's GGUF: auto finds ChatML in its template, the seed's plain-text calls become <tool_call>
// blocks, and only the assistant's spans are trained.
TEST(DataCli, ChatMlFromTheGgufTemplateWithToolCallBlocks) {
  const std::filesystem::path gguf = test::smollm2_gguf();
  MLXFT_REQUIRE_FILE(gguf, "SmolLM2 GGUF");
  test::TempDir dir;
  test::write_file(
      dir / "d.jsonl",
      R"({"conversations": [{"role": "user", "content": "Find q3"}, {"role": "assistant", )"
      R"("content": "tool_call: search\narguments: {\"query\": \"q3\"}\n\nResult: {\"hits\": 2}\n\n)"
      R"(Two hits."}], "label": true})"
      "\n");
  const std::string args =
      "--data '" + (dir / "d.jsonl").string() + "' --model '" + gguf.string() + "' --min-examples 1";
  auto r = test::run_mlxft("data check " + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("chat:       chatml (bpe,"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tool calls: 1 native"), std::string::npos) << r.output;
  r = test::run_mlxft("data render " + args + " --out '" + (dir / "o.jsonl").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(test::read_file(dir / "o.jsonl"));
  const auto ids = j["ids"].get<std::vector<int32_t>>();
  const auto mask = j["mask"].get<std::vector<int>>();
  // Two assistant turns (the call, the reply): each ends with a trained <|im_end|> (id 2), and
  // no <|im_start|> (id 1) is trained.
  int trained_ends = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    trained_ends += ids[i] == 2 && mask[i];
    EXPECT_FALSE(ids[i] == 1 && mask[i]);
  }
  EXPECT_EQ(trained_ends, 2);
  EXPECT_EQ(mask.back(), 0);  // the "\n" after the last <|im_end|>
}

TEST(DataCli, AutoChatFormatFailsClearlyWithoutATemplate) {
  test::TempDir dir;
  test::write_file(dir / "d.jsonl", kRecord + "\n");
  const auto tok = test::source_dir() / "tests/golden/bpe/tiny_gpt2/tokenizer.json";
  const auto r = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "' --tokenizer '" +
                                 tok.string() + "' --min-examples 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--chat-format"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mistral-v3, chatml"), std::string::npos) << r.output;
  const auto ok = test::run_mlxft("data check --data '" + (dir / "d.jsonl").string() + "' --tokenizer '" +
                                  tok.string() + "' --min-examples 1 --chat-format chatml");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}
