// tool_metrics() with argument scores: arguments_match and argument_accuracy on hand-made
// outcomes whose numbers follow from the definitions (ignored keys, an invalid output, no-call
// turns that do not count, a wrong name).
#include <gtest/gtest.h>

#include "mlxft/eval/tool_eval.h"

namespace mlxft {
namespace {

ToolTurnOutcome outcome(std::vector<ParsedCall> expected, std::vector<ParsedCall> got, bool valid = true) {
  ToolTurnOutcome o;
  o.expected_call = !expected.empty();
  o.expected = std::move(expected);
  o.got.made_call = !got.empty() || !valid;
  o.got.valid = valid && !got.empty();
  o.got.calls = std::move(got);
  return o;
}

ParsedCall call(const std::string& name, const std::string& args) {
  return {name, OrderedJson::parse(args)};
}

TEST(ToolMetrics, ArgumentScoresFollowTheirDefinitions) {
  const auto want = call("read", R"({"context": {"id": 1}, "path": "a", "limit": 5})");
  const std::vector<ToolTurnOutcome> outcomes = {
      outcome(
          {want},
          {call("read", R"({"context": {"id": 2}, "path": "a", "limit": 5.0})")}),  // match (context ignored)
      outcome({want}, {call("read", R"({"path": "a", "limit": 6})")}),              // 1 of 2 pairs
      outcome({want}, {call("list", R"({"path": "a", "limit": 5})")}),              // wrong tool: 0
      outcome({want}, {call("read", R"({"path": "a", "limit": 5})")}, false),       // invalid output
      outcome({}, {}),                                                              // a no-call turn
  };
  const ToolCallMetrics plain = tool_metrics(outcomes);
  EXPECT_EQ(plain.call_turns, 4);
  EXPECT_EQ(plain.arguments_matched, 0);  // the context differs in the first, is missing in the others
  EXPECT_EQ(plain.argument_pairs, 12);
  EXPECT_EQ(plain.argument_pairs_matched, 2 + 1 + 0 + 2);
  const ToolCallMetrics m = tool_metrics(outcomes, ArgumentScoring{{"context"}});
  EXPECT_EQ(m.arguments_matched, 1);  // the invalid output does not count even though its calls parse
  EXPECT_DOUBLE_EQ(m.arguments_match, 0.25);
  EXPECT_EQ(m.argument_pairs, 8);
  EXPECT_EQ(m.argument_pairs_matched, 2 + 1 + 0 + 2);
  EXPECT_DOUBLE_EQ(m.argument_accuracy, 5.0 / 8.0);
  EXPECT_EQ(m.name_correct, 3);
}

TEST(ToolMetrics, StatedScoresCountOnlyWhatTheConversationSays) {
  ToolTurnOutcome copyable = outcome({call("read", R"({"path": "notes/a.md", "limit": 5})")},
                                     {call("read", R"({"path": "notes/a.md", "limit": 5})")});
  copyable.said = "please read notes/a.md, the first 5 lines";
  ToolTurnOutcome invented = outcome({call("read", R"({"path": "inbox/b.md", "limit": 5})")},
                                     {call("read", R"({"path": "b.md", "limit": 5})")});
  invented.said = "read b, first 5";  // the folder was made up: this turn is not stated
  ToolTurnOutcome missed = outcome({call("read", R"({"path": "c.md"})")}, {call("list", "{}")});
  missed.said = "read c.md";
  const ToolCallMetrics m = tool_metrics({copyable, invented, missed, outcome({}, {})});
  EXPECT_EQ(m.stated_call_turns, 2);
  EXPECT_EQ(m.stated_arguments_matched, 1);
  EXPECT_DOUBLE_EQ(m.stated_arguments_match, 0.5);
  EXPECT_EQ(m.stated_pairs, 2 + 1 + 1);  // the invented path is not counted, its limit is
  EXPECT_EQ(m.stated_pairs_matched, 2 + 1 + 0);
  EXPECT_DOUBLE_EQ(m.stated_argument_accuracy, 0.75);
  EXPECT_EQ(m.arguments_matched, 1);  // the plain scores are unchanged by `said`
  EXPECT_EQ(m.argument_pairs, 5);
}

}  // namespace
}  // namespace mlxft
