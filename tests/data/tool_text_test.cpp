#include "mlxft/data/tool_text.h"

#include <gtest/gtest.h>

#include "mlxft/data/dataset.h"

using namespace mlxft;

namespace {

const std::string kChained =
    "I'll look.\n\ntool_call: search\narguments: {\"query\": \"q3\", \"limit\": 5}\n\n"
    "Result: {\"success\": true, \"hits\": [\"a.md\"]}\n\n"
    "tool_call: read\narguments: {\n  \"path\": \"a.md\"\n}\n\nResult: plain text result\n\nHere it is.";

std::string span_text(const Message& m, size_t k) {
  return m.content.substr(m.untrained_spans[k].first,
                          m.untrained_spans[k].second - m.untrained_spans[k].first);
}

}  // namespace

TEST(ToolText, ParsesChainedBlocksWithMultiLineArguments) {
  const auto blocks = parse_tool_text(kChained);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].name, "search");
  ASSERT_TRUE(blocks[0].arguments.has_value());
  EXPECT_EQ((*blocks[0].arguments)["limit"], 5);
  EXPECT_TRUE(blocks[0].has_result);
  EXPECT_EQ(blocks[0].result_text, "{\"success\": true, \"hits\": [\"a.md\"]}");
  EXPECT_EQ(blocks[1].name, "read");
  ASSERT_TRUE(blocks[1].arguments.has_value());
  EXPECT_EQ((*blocks[1].arguments)["path"], "a.md");
  EXPECT_EQ(blocks[1].result_text, "plain text result");
}

TEST(ToolText, TextModeKeepsTextAndMarksEachResultUntrained) {
  const auto c = convert_tool_text(kChained, ToolFormat::Text, 7);
  ASSERT_EQ(c.messages.size(), 1u);
  const auto& m = c.messages[0];
  EXPECT_EQ(m.content, kChained);
  ASSERT_EQ(m.untrained_spans.size(), 2u);
  EXPECT_EQ(span_text(m, 0), "Result: {\"success\": true, \"hits\": [\"a.md\"]}");
  EXPECT_EQ(span_text(m, 1), "Result: plain text result");
  EXPECT_EQ(c.text_calls, 2);
  EXPECT_EQ(c.native_calls, 0);
}

TEST(ToolText, NativeModeMakesCallResultPairsWithSharedIds) {
  const auto c = convert_tool_text(kChained, ToolFormat::Native, 7);
  ASSERT_EQ(c.messages.size(), 5u);  // call, result, call, result, reply
  EXPECT_EQ(c.native_calls, 2);
  EXPECT_EQ(c.dropped_prose, 1);  // "I'll look." before the first call
  const auto& call = c.messages[0];
  ASSERT_EQ(call.tool_calls.size(), 1u);
  EXPECT_EQ(call.tool_calls[0].name, "search");
  EXPECT_EQ(call.tool_calls[0].id.size(), 9u);
  EXPECT_EQ(c.messages[1].role, Role::Tool);
  EXPECT_EQ(c.messages[1].tool_call_id, call.tool_calls[0].id);
  EXPECT_TRUE(c.messages[1].tool_result.is_object());                      // JSON result parsed
  EXPECT_EQ(c.messages[3].tool_result, OrderedJson("plain text result"));  // non-JSON result stays a string
  EXPECT_NE(c.messages[2].tool_calls[0].id, call.tool_calls[0].id);
  EXPECT_EQ(c.messages[4].content, "Here it is.");
  EXPECT_TRUE(c.messages[4].untrained_spans.empty());
  // Ids are a pure function of the seed.
  EXPECT_EQ(convert_tool_text(kChained, ToolFormat::Native, 7).messages[0].tool_calls[0].id,
            call.tool_calls[0].id);
  EXPECT_NE(convert_tool_text(kChained, ToolFormat::Native, 8).messages[0].tool_calls[0].id,
            call.tool_calls[0].id);
}

TEST(ToolText, MalformedArgumentsKeepTheRestAsTextWithAWarning) {
  const std::string s =
      "tool_call: a\narguments: {\"x\": 1}\n\nResult: {\"ok\": true}\n\n"
      "tool_call: b\narguments: {\"y\": 2)\n\nResult: {\"ok\": false}\n\nDone.";
  const auto c = convert_tool_text(s, ToolFormat::Native, 1);
  ASSERT_EQ(c.messages.size(), 3u);  // call a, result a, text from block b on
  EXPECT_EQ(c.native_calls, 1);
  EXPECT_EQ(c.text_calls, 1);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("not a JSON object"), std::string::npos);
  const auto& text = c.messages[2];
  EXPECT_EQ(text.content.rfind("tool_call: b", 0), 0u);
  ASSERT_EQ(text.untrained_spans.size(), 1u);  // the whole rest: a text call is never trained
  EXPECT_EQ(span_text(text, 0), text.content);
  EXPECT_NE(c.warnings[0].find("untrained"), std::string::npos);
}

TEST(ToolText, ACallThatEndsTheMessageNeedsNoResult) {
  const auto c = convert_tool_text("tool_call: save\narguments: {\"n\": 1}", ToolFormat::Native, 3);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].tool_calls.size(), 1u);
}

TEST(ToolText, TextWithoutBlocksIsUntouchedAndOddInputNeverThrows) {
  EXPECT_TRUE(parse_tool_text("no calls here, tool_call: inline").empty());
  EXPECT_TRUE(parse_tool_text("tool_call:").empty());
  EXPECT_TRUE(parse_tool_text("tool_call: x\nnot arguments").empty());
  const auto blocks = parse_tool_text("tool_call: x\narguments: ");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_FALSE(blocks[0].arguments.has_value());
}
