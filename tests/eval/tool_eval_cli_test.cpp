// `mlxft eval --tool-calls` end to end on a tiny random model with the real v3 tokenizer: the
// turns and call turns follow from the data (native and text tool formats, --max-examples),
// EVAL.json holds every metric as a number, and --per-example lists exactly the mismatched turns.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

class ToolEvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    MLXFT_REQUIRE_TOKENIZER();
    const auto r = test::init_tiny_model(tmp_ / "tiny");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Native turns: 2 (1 call) + 1 (none) + 3 (2 calls). Text turns: 1 (call) + 1 + 1 (call).
    test::write_file(
        tmp_ / "data.jsonl",
        R"({"conversations": [{"role": "user", "content": "Read my note"}, {"role": "assistant", "content": "tool_call: readNote\narguments: {\"path\": \"a.md\"}\n\nResult: {\"ok\": true}\n\nIt says hi."}]})"
        "\n"
        R"({"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})"
        "\n"
        R"({"conversations": [{"role": "user", "content": "Clean up"}, {"role": "assistant", "content": "tool_call: del\narguments: {\"p\": 1}\n\nResult: {}\n\ntool_call: list\narguments: {}\n\nResult: []\n\nDone."}]})"
        "\n");
  }
  nlohmann::json run(const std::string& extra) {
    const fs::path out = tmp_ / "EVAL.json", per = tmp_ / "mismatches.jsonl";
    const auto r =
        test::run_mlxft("eval --tool-calls --max-new-tokens 6 --model '" + (tmp_ / "tiny").string() +
                        "' --data '" + (tmp_ / "data.jsonl").string() + "' --out '" + out.string() +
                        "' --per-example '" + per.string() + "' " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("name_accuracy"), std::string::npos) << r.output;
    const auto j = nlohmann::json::parse(test::read_file(out));
    for (const char* key : {"turns", "call_turns", "name_accuracy", "arguments_exact", "valid_call_rate",
                            "no_call_accuracy", "seconds_per_turn"}) {
      EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << j.dump();
    }
    // Every turn that is not right (an exact call, or no call where none is due) is one line.
    const double right = j["arguments_exact"].get<double>() * j["call_turns"].get<double>() +
                         j["no_call_accuracy"].get<double>() * j["no_call_turns"].get<double>();
    std::istringstream lines(test::read_file(per));
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
      const auto m = nlohmann::json::parse(line);
      for (const char* key : {"index", "turn", "prompt_tail", "expected", "got", "generated"})
        EXPECT_TRUE(m.contains(key)) << key << " in " << line;
      EXPECT_NE(m["prompt_tail"].get<std::string>().find("[/INST]"), std::string::npos) << line;
    }
    EXPECT_EQ(n, j["turns"].get<int>() - std::lround(right));
    return j;
  }
  test::TempDir tmp_;
};

TEST_F(ToolEvalCli, NativeTurnsFollowTheData) {
  const auto j = run("");
  EXPECT_EQ(j["turns"], 6);
  EXPECT_EQ(j["call_turns"], 3);
  EXPECT_EQ(j["no_call_turns"], 3);
  EXPECT_EQ(j["examples"], 3);
  const auto two = run("--max-examples 2");
  EXPECT_EQ(two["turns"], 3);
  EXPECT_EQ(two["call_turns"], 1);
}

TEST_F(ToolEvalCli, TextFormatTurnsTakeTheirCallsFromTheText) {
  const auto j = run("--tool-format text");
  EXPECT_EQ(j["turns"], 3);
  EXPECT_EQ(j["call_turns"], 2);
}

}  // namespace
}  // namespace mlxft

namespace mlxft {
namespace {

// The first line of the seed file, alone in `out`.
// The first n lines of a file, each ending in a newline.
std::string first_lines(const fs::path& file, int n) {
  std::istringstream all(test::read_file(file));
  std::string line, lines;
  for (int i = 0; i < n && std::getline(all, line); ++i) lines += line + "\n";
  return lines;
}

void write_first_record(const fs::path& seed, const fs::path& out) {
  test::write_file(out, first_lines(seed, 1));
}

// SmolLM2 (ChatML, Hermes calls) on the seed's first record: a call turn, then the reply after the
// tool result; the prompts are ChatML's. Four tokens a turn keep it cheap (about 20 s on 2 busy cores).
TEST(ToolEvalSmolLm2, ScoresTheSeedsFirstRecordInChatMl) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const fs::path seed = test::seed_dataset_any();
  MLXFT_REQUIRE_FILE(seed, "seed dataset");
  test::TempDir tmp;
  write_first_record(seed, tmp / "one.jsonl");
  const fs::path out = tmp / "EVAL.json", per = tmp / "mismatches.jsonl";
  const auto r = test::run_mlxft("eval --tool-calls --max-new-tokens 4 --model '" +
                                 test::smollm2_gguf().string() + "' --data '" + (tmp / "one.jsonl").string() +
                                 "' --out '" + out.string() + "' --per-example '" + per.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(test::read_file(out));
  EXPECT_EQ(j["turns"], 2);
  EXPECT_EQ(j["call_turns"], 1);
  EXPECT_EQ(j["arguments_exact"], 0.0);  // four tokens cannot hold the reference call
  int mistakes = 0;
  for (const char* k : {"missed_call", "unparsed_call", "wrong_tool", "wrong_arguments", "unwanted_call"})
    mistakes += j["mistakes"][k].get<int>();
  EXPECT_GE(mistakes, 1);  // the call turn at least
  EXPECT_LE(mistakes, 2);
  const std::string lines = test::read_file(per);
  EXPECT_NE(lines.find("<|im_start|>assistant\\n"), std::string::npos) << lines;
  EXPECT_NE(lines.find("contentManager_readContent"), std::string::npos) << lines;  // the expected call
  EXPECT_NE(lines.find("\"mistake\":"), std::string::npos) << lines;
}

// The same record offered a catalogue inferred by `mlxft data tools`: turn by turn with the reused
// prompt cache (--tool-batch 1) generates what the batched path generates, and the constrained run
// reports itself; EVAL.json carries the argument scores and the ignored keys.
TEST(ToolEvalSmolLm2, CatalogueReuseAndConstraintInTheCli) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const fs::path seed = test::seed_dataset_any();
  MLXFT_REQUIRE_FILE(seed, "seed dataset");
  test::TempDir tmp;
  write_first_record(seed, tmp / "one.jsonl");
  const auto tools = test::run_mlxft("data tools '" + (tmp / "one.jsonl").string() + "' --out '" +
                                     (tmp / "tools.json").string() + "'");
  ASSERT_EQ(tools.exit_code, 0) << tools.output;
  EXPECT_NE(test::read_file(tmp / "tools.json").find("contentManager_readContent"), std::string::npos);
  const auto eval = [&](const std::string& name, const std::string& flags) {
    const auto r = test::run_mlxft(
        "eval --tool-calls --max-new-tokens 6 --ignore-argument-keys context --model '" +
        test::smollm2_gguf().string() + "' --data '" + (tmp / "one.jsonl").string() + "' --tools '" +
        (tmp / "tools.json").string() + "' --out '" + (tmp / (name + ".json")).string() +
        "' --per-example '" + (tmp / (name + ".jsonl")).string() + "' " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(test::read_file(tmp / (name + ".json")));
  };
  const auto batched = eval("batched", "--tool-batch 8");
  const auto in_order = eval("in_order", "--tool-batch 1");
  for (const char* key : {"turns", "call_turns", "name_accuracy", "arguments_match", "argument_accuracy",
                          "valid_call_rate", "no_call_accuracy", "generated_tokens", "stated"})
    EXPECT_EQ(batched[key], in_order[key]) << key;
  EXPECT_LE(batched["stated"]["call_turns"].get<int>(), batched["call_turns"].get<int>());
  EXPECT_EQ(test::read_file(tmp / "batched.jsonl"), test::read_file(tmp / "in_order.jsonl"));
  EXPECT_EQ(batched["ignored_argument_keys"], nlohmann::json::parse(R"(["context"])"));
  EXPECT_EQ(batched["constrained"], false);
  EXPECT_EQ(eval("constrained", "--constrain-tools")["constrained"], true);
}

// --tools-per-prompt with --tool-calls: each conversation is prompted with its subset (the called
// tool, here alone) rather than the whole catalogue, so its prompt is shorter by the other tools;
// --constrain-tools-from leaves the prompt as it is without a catalogue.
TEST(ToolEvalSmolLm2, PerPromptSubsetsAndConstraintCatalogueShapeThePrompt) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const fs::path seed = test::seed_dataset_any();
  MLXFT_REQUIRE_FILE(seed, "seed dataset");
  test::TempDir tmp;
  write_first_record(seed, tmp / "one.jsonl");
  test::write_file(tmp / "twenty.jsonl", first_lines(seed, 20));
  const auto tools = test::run_mlxft("data tools '" + (tmp / "twenty.jsonl").string() + "' --out '" +
                                     (tmp / "tools.json").string() + "'");
  ASSERT_EQ(tools.exit_code, 0) << tools.output;
  const std::string catalogue = "'" + (tmp / "tools.json").string() + "'";
  // One token a turn; returns EVAL.json and the first mismatch line (the call turn).
  const auto eval = [&](const std::string& name, const std::string& flags) {
    const fs::path out = tmp / (name + ".json"), per = tmp / (name + ".jsonl");
    const auto r = test::run_mlxft("eval --tool-calls --max-new-tokens 1 --model '" + test::smollm2_gguf().string() +
                                   "' --data '" + (tmp / "one.jsonl").string() + "' --out '" + out.string() +
                                   "' --per-example '" + per.string() + "' " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return std::pair{nlohmann::json::parse(test::read_file(out)), nlohmann::json::parse(first_lines(per, 1))};
  };
  // --constrain-tools-from constrains with the file's tools and leaves the prompt as it was.
  const auto [plain_eval, plain] = eval("plain", "");
  const auto [from_eval, from] = eval("from", "--constrain-tools-from " + catalogue);
  EXPECT_EQ(from_eval["constrained"], true);
  EXPECT_EQ(plain["prompt_tokens"], from["prompt_tokens"]);

  const auto whole = eval("whole", "--tools " + catalogue).second;
  const auto subset = eval("subset", "--tools " + catalogue + " --tools-per-prompt 1").second;
  EXPECT_EQ(whole["turn"], subset["turn"]);
  EXPECT_LT(subset["prompt_tokens"].get<int>() + 100, whole["prompt_tokens"].get<int>());
}

}  // namespace
}  // namespace mlxft
