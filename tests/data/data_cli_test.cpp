// `mlxft data check` and `mlxft data render` end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

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
                                   " --format sharegpt --min-examples 1");
  EXPECT_NE(bad.exit_code, 0);
}
