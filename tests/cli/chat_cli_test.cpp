// `mlxft chat` with standard input a pipe: one turn per line on a tiny random Mistral-shaped model,
// greedy. --tool-choice required forces a tool call, which is shown parsed; results given with /tool
// bring the next answer, whose prompt holds the history (and reuses the cached prefix); /reset forgets
// it; /exit ends before the lines after it. (The terminal session: tests/scripts/chat_tty_test.sh.)
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

struct TurnStats {
  int prompt = 0, reused = 0, generated = 0;
};

std::vector<TurnStats> turn_stats(const std::string& output) {
  std::vector<TurnStats> out;
  const std::regex line(R"(\[(\d+) prompt tokens, (\d+) reused; (\d+) generated)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back({std::stoi((*it)[1]), std::stoi((*it)[2]), std::stoi((*it)[3])});
  return out;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(ChatCli, PipedSessionWithAForcedToolCallResultsResetAndExit) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  const auto init = test::init_tiny_model(dir / "tiny", 1);
  ASSERT_EQ(init.exit_code, 0) << init.output;
  test::write_file(
      dir / "tools.json",
      R"([{"type": "function", "function": {"name": "get_time", "description": "The current time", )"
      R"("parameters": {"type": "object", "properties": {}}}}])");
  test::write_file(
      dir / "session.txt",
      "What time is it?\nAre you there?\n/tool {\"time\": \"10:00\"}\n/tool {\"time\": \"10:00\"}\n"
      "/tool {\"time\": \"10:00\"}\n/tool {\"time\": \"10:00\"}\n/reset\nHello\n/exit\nNever read\n");
  const auto r = test::run_command("'" + test::mlxft_binary().string() + "' chat --model '" +
                                   (dir / "tiny").string() + "' --tools '" + (dir / "tools.json").string() +
                                   "' --tool-choice required --max-tokens 200 < '" +
                                   (dir / "session.txt").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string& out = r.output;
  // The first answer: a call the chat format parsed, shown by name and arguments.
  const size_t waits = out.find("tool call(s) wait for a result");
  ASSERT_NE(waits, std::string::npos) << out;
  const int calls = count(out.substr(0, waits), "[tool call] get_time {}");
  ASSERT_GE(calls, 1) << out;
  ASSERT_LE(calls, 4) << out;
  EXPECT_NE(out.find(std::to_string(calls) + " tool call(s) wait for a result"), std::string::npos) << out;
  // One result per call; the /tool lines after them find no call waiting.
  EXPECT_EQ(count(out, "no tool call is waiting for a result"), 4 - calls) << out;
  EXPECT_NE(out.find("(conversation cleared)"), std::string::npos) << out;
  // Three answers: the forced call, the answer after the results, the forced call after /reset.
  // "Never read" after /exit brings no fourth.
  const auto turns = turn_stats(out);
  ASSERT_EQ(turns.size(), 3u) << out;
  EXPECT_GT(turns[1].prompt, turns[0].prompt + 4 * calls) << "the history (calls, results) is in the prompt";
  EXPECT_GE(turns[1].reused, turns[0].prompt - 1) << "the first turn's prompt comes from the cache";
  EXPECT_LT(turns[2].prompt, turns[0].prompt)
      << "after /reset only the new user turn (shorter) is in the prompt";
  EXPECT_LE(turns[0].generated, 200);
}

}  // namespace
}  // namespace mlxft
