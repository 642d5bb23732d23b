// The tool-call parser of each chat format (ChatFormat::parse_tool_calls) (well-formed, malformed, truncated,
// garbage, none, several calls), the comparison, what a correct model output in each format parses to (the
// format's own rendering of the reference turn), and the metrics on hand-made outcomes.
#include "mlxft/eval/tool_calls.h"

#include <gtest/gtest.h>

#include "mlxft/chat/chat_format.h"
#include "mlxft/chat/chatml.h"
#include "mlxft/chat/mistral_v3.h"
#include "mlxft/eval/tool_eval.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::msg;

ParsedCall call(const std::string& name, const std::string& args) {
  return {name, OrderedJson::parse(args)};
}

// The calls in `text` as the format called `format` reads them ("": the plain-text fallback alone).
// The parsers never use the tokenizer: a tiny one serves every format.
ParsedCalls parse_calls(std::string_view text, const std::string& format) {
  static const BpeTokenizer tok(test::tiny_vocab());
  if (format.empty()) return parse_plain_tool_calls(text);
  return make_chat_format(format, tok)->parse_tool_calls(text);
}

TEST(ToolCallParser, MistralReadsTheCallArray) {
  const auto p = parse_calls(
      R"([TOOL_CALLS][{"name": "a", "arguments": {"x": 1}, "id": "abcdefghi"}, {"name": "b", "arguments": {}}])",
      "mistral-v3");
  EXPECT_TRUE(p.made_call);
  EXPECT_TRUE(p.valid);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[0].name, "a");
  EXPECT_EQ(p.calls[0].arguments, OrderedJson::parse(R"({"x": 1})"));
  EXPECT_EQ(p.calls[1].name, "b");
  // One object instead of an array, arguments as a JSON string (OpenAI style), a kept </s>.
  const auto one = parse_calls(R"([TOOL_CALLS] {"name": "a", "arguments": "{\"x\": 1}"}</s>)", "mistral-v3");
  EXPECT_TRUE(one.valid);
  ASSERT_EQ(one.calls.size(), 1u);
  EXPECT_EQ(one.calls[0].arguments, OrderedJson::parse(R"({"x": 1})"));
}

TEST(ToolCallParser, MistralMalformedCallsAreInvalidNeverAnError) {
  for (const std::string body : {R"([{"name": "a", "arguments": {"x": 1)",  // truncated
                                 R"([{"name": "a"}])",                      // no arguments
                                 R"([{"name": 3, "arguments": {}}])",       // name not a string
                                 R"([{"name": "a", "arguments": [1]}])",    // arguments not an object
                                 R"([])", "", "\xff\xfe garbage {{{", R"("a")"}) {
    SCOPED_TRACE(body);
    const auto p = parse_calls("[TOOL_CALLS]" + body, "mistral-v3");
    EXPECT_TRUE(p.made_call);
    EXPECT_FALSE(p.valid);
  }
  // One good and one bad call: invalid, the good one kept.
  const auto mixed =
      parse_calls(R"([TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b"}])", "mistral-v3");
  EXPECT_FALSE(mixed.valid);
  ASSERT_EQ(mixed.calls.size(), 1u);
  EXPECT_EQ(mixed.calls[0].name, "a");
}

TEST(ToolCallParser, HermesReadsEveryBlock) {
  const auto p = parse_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": [1, 2]}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>",
      "chatml");
  EXPECT_TRUE(p.made_call);
  EXPECT_TRUE(p.valid);
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[0].name, "a");
  EXPECT_EQ(p.calls[1].name, "b");
  // An unterminated last block still counts when its JSON is whole (the stop token cut it).
  const auto open = parse_calls("<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n", "chatml");
  EXPECT_TRUE(open.valid);
  EXPECT_EQ(open.calls.size(), 1u);
}

TEST(ToolCallParser, HermesMalformedBlocksAreInvalid) {
  for (const std::string text :
       {"<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": \n", "<tool_call>\nnot json\n</tool_call>",
        "<tool_call>\n[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": "
        "{}}]\n</tool_call>",
        "<tool_call></tool_call>",
        "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call><tool_call>{"}) {
    SCOPED_TRACE(text);
    const auto p = parse_calls(text, "chatml");
    EXPECT_TRUE(p.made_call);
    EXPECT_FALSE(p.valid);
  }
}

TEST(ToolCallParser, PlainTextSeedBlocksInAnyFormat) {
  const std::string text =
      "tool_call: search\narguments: {\"q\": \"x\"}\n\nResult: {\"ok\": true}\n\n"
      "tool_call: open\narguments: {\"id\": 2}\n\nDone.";
  for (const std::string format : {"mistral-v3", "chatml", ""}) {
    SCOPED_TRACE(format);
    const auto p = parse_calls(text, format);
    EXPECT_TRUE(p.made_call);
    EXPECT_TRUE(p.valid);
    ASSERT_EQ(p.calls.size(), 2u);
    EXPECT_EQ(p.calls[0].name, "search");
    EXPECT_EQ(p.calls[1].arguments, OrderedJson::parse(R"({"id": 2})"));
  }
  const auto bad = parse_calls("tool_call: search\narguments: {\"q\": \n\nDone.", "chatml");
  EXPECT_TRUE(bad.made_call);
  EXPECT_FALSE(bad.valid);
  EXPECT_TRUE(bad.calls.empty());
  const auto no_args = parse_calls("tool_call: search", "mistral-v3");  // cut before the arguments
  EXPECT_TRUE(no_args.made_call);
  EXPECT_FALSE(no_args.valid);
}

TEST(ToolCallParser, NoCallAndGarbage) {
  for (const std::string text : {"", "Sure, here is your note.", "\xff\x00\x01 {\"name\": \"a\"}",
                                 "I will use tool_call: later", "[TOOL_CALLS] mentioned in chatml"}) {
    SCOPED_TRACE(text);
    const auto p = parse_calls(text, "chatml");
    EXPECT_FALSE(p.made_call);
    EXPECT_FALSE(p.valid);
    EXPECT_TRUE(p.calls.empty());
  }
  EXPECT_FALSE(parse_calls("<tool_call> is a chatml marker", "mistral-v3").made_call);
}

TEST(ToolCallCompare, NamesAndJsonEqualArgumentsInOrder) {
  const std::vector<ParsedCall> ref = {call("a", R"({"x": 1, "y": {"p": [1, 2], "q": "s"}})"),
                                       call("b", "{}")};
  EXPECT_TRUE(same_calls(ref, {call("a", R"({"y": {"q": "s", "p": [1, 2]}, "x": 1.0})"), call("b", "{}")}));
  EXPECT_FALSE(same_calls(ref, {call("b", "{}"), call("a", R"({"x": 1, "y": {"p": [1, 2], "q": "s"}})")}));
  EXPECT_FALSE(same_calls(ref, {call("a", R"({"x": 1, "y": {"p": [2, 1], "q": "s"}})"), call("b", "{}")}));
  EXPECT_FALSE(same_calls(ref, {call("a", R"({"x": 1, "y": {"p": [1, 2], "q": "s"}})")}));
  EXPECT_FALSE(same_calls(ref, {call("a", R"({"x": "1", "y": {"p": [1, 2], "q": "s"}})"), call("b", "{}")}));
  EXPECT_TRUE(same_first_name(ref, {call("a", "{}")}));
  EXPECT_FALSE(same_first_name(ref, {call("b", "{}"), call("a", "{}")}));
  EXPECT_FALSE(same_first_name(ref, {}));
  EXPECT_FALSE(same_first_name({}, {}));
}

Conversation seed_like() {
  Conversation c;
  c.messages = {msg(Role::User, "Read my note")};
  Message call_turn = msg(Role::Assistant, "");
  call_turn.tool_calls = {
      {"abcdefghi", "readNote", OrderedJson::parse(R"({"path": "a/b.md", "lines": [1, 2]})")},
      {"bcdefghij", "stat", OrderedJson::parse(R"({"path": "a/b.md"})")}};
  Message result = msg(Role::Tool, R"({"ok": true})");
  result.tool_call_id = "abcdefghi";
  result.tool_result = OrderedJson::parse(R"({"ok": true})");
  Message result2 = result;
  result2.tool_call_id = "bcdefghij";
  c.messages.push_back(call_turn);
  c.messages.push_back(result);
  c.messages.push_back(result2);
  c.messages.push_back(msg(Role::Assistant, "It says hello."));
  return c;
}

// The trained ids of the assistant message `turn` (its end-of-turn token dropped): what a model
// that learned the turn perfectly generates before it stops.
std::vector<int32_t> reference_output(const ChatFormat& format, const Conversation& c, size_t turn) {
  Conversation upto = c;
  upto.messages.resize(turn + 1);
  const Rendered whole = format.render(upto);
  const size_t start = format
                           .generation_prompt([&] {
                             Conversation p = c;
                             p.messages.resize(turn);
                             return p;
                           }())
                           .size();
  std::vector<int32_t> out(whole.ids.begin() + static_cast<std::ptrdiff_t>(start), whole.ids.end());
  while (!out.empty() &&
         (format.tokenizer().is_control(out.back()) || format.tokenizer().decode({out.back()}) == "\n"))
    out.pop_back();  // </s>, or <|im_end|> "\n"
  return out;
}

void expect_round_trip(const ChatFormat& format) {
  const Conversation c = seed_like();
  const auto turns = tool_turns(c, format, 7);
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].example_index, 7);
  EXPECT_EQ(turns[0].message_index, 1u);
  EXPECT_TRUE(turns[0].expected_call);
  EXPECT_EQ(turns[1].message_index, 4u);
  EXPECT_FALSE(turns[1].expected_call);
  Conversation before = c;
  before.messages.resize(4);
  EXPECT_EQ(turns[1].prompt, format.generation_prompt(before));
  // What each turn's conversation says, lower-cased: the user's text, then also the calls and results.
  EXPECT_EQ(turns[0].said, "read my note\n");
  EXPECT_NE(turns[1].said.find("readnote {\"path\":\"a/b.md\",\"lines\":[1,2]}"), std::string::npos)
      << turns[1].said;
  EXPECT_NE(turns[1].said.find("{\"ok\": true}"), std::string::npos) << turns[1].said;

  const std::string call_text = text_keeping_controls(format.tokenizer(), reference_output(format, c, 1));
  const auto got = format.parse_tool_calls(call_text);
  EXPECT_TRUE(got.valid) << call_text;
  EXPECT_TRUE(same_calls(turns[0].expected, got.calls)) << call_text;
  const std::string reply = text_keeping_controls(format.tokenizer(), reference_output(format, c, 4));
  EXPECT_FALSE(format.parse_tool_calls(reply).made_call) << reply;
}

TEST(ToolTurns, MistralV3ReferenceOutputParsesToTheReferenceCalls) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  expect_round_trip(MistralV3Format(tok));
}

TEST(ToolTurns, ChatMlReferenceOutputParsesToTheReferenceCalls) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  expect_round_trip(ChatMlFormat(*test::smollm2_tokenizer()));
}

TEST(ToolTurns, TextModeTurnsTakeTheirCallsFromThePlainText) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  Conversation c;
  c.messages = {
      msg(Role::User, "Read it"),
      msg(Role::Assistant, "tool_call: readNote\narguments: {\"path\": \"x\"}\n\nResult: {}\n\nDone."),
      msg(Role::User, "Thanks"), msg(Role::Assistant, "You're welcome.")};
  const auto turns = tool_turns(c, MistralV3Format(tok));
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_TRUE(turns[0].expected_call);
  ASSERT_EQ(turns[0].expected.size(), 1u);
  EXPECT_EQ(turns[0].expected[0].name, "readNote");
  EXPECT_FALSE(turns[1].expected_call);
  c.raw_text = true;
  EXPECT_TRUE(tool_turns(c, MistralV3Format(tok)).empty());
}

ToolTurnOutcome outcome(std::vector<ParsedCall> expected, const std::string& output) {
  ToolTurnOutcome o;
  o.expected_call = !expected.empty();
  o.expected = std::move(expected);
  o.generated = output;
  o.got = parse_calls(output, "chatml");
  return o;
}

TEST(ToolMetrics, HandMadeCasesFollowTheDefinitions) {
  const auto a = call("a", R"({"x": 1})");
  const std::vector<ToolTurnOutcome> outcomes = {
      outcome({a}, "<tool_call>\n{\"arguments\": {\"x\": 1}, \"name\": \"a\"}\n</tool_call>"),  // exact
      outcome({a}, "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 2}}\n</tool_call>"),  // name only
      outcome({a}, "<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": 1}}\n</tool_call>"),  // wrong name
      outcome({a}, "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1\n"),                // invalid
      outcome({a}, "I cannot do that."),                                                        // no call
      outcome({}, "Hello!"),                                                                    // right: none
      outcome({}, "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>"),  // call, none due
      outcome({}, "<tool_call>\nbroken"),                                              // invalid call
  };
  const ToolCallMetrics m = tool_metrics(outcomes);
  EXPECT_EQ(m.turns, 8);
  EXPECT_EQ(m.call_turns, 5);
  EXPECT_EQ(m.no_call_turns, 3);
  EXPECT_EQ(m.model_call_turns, 6);
  EXPECT_DOUBLE_EQ(m.name_accuracy, 2.0 / 5.0);     // turns 1, 2
  EXPECT_DOUBLE_EQ(m.arguments_exact, 1.0 / 5.0);   // turn 1
  EXPECT_DOUBLE_EQ(m.valid_call_rate, 4.0 / 6.0);   // all but turns 4 and 8
  EXPECT_DOUBLE_EQ(m.no_call_accuracy, 1.0 / 3.0);  // turn 6
  // Each turn under its first mistake: 2 wrong arguments, 3 wrong tool, 4 unparsed, 5 missed, 7 and 8
  // unwanted (a broken call where none was due is still a call).
  const std::vector<TurnMistake> mistakes = {
      TurnMistake::None,       TurnMistake::WrongArguments, TurnMistake::WrongTool,    TurnMistake::UnparsedCall,
      TurnMistake::MissedCall, TurnMistake::None,           TurnMistake::UnwantedCall, TurnMistake::UnwantedCall};
  for (size_t i = 0; i < outcomes.size(); ++i) EXPECT_EQ(turn_mistake(outcomes[i]), mistakes[i]) << "turn " << i + 1;
  EXPECT_EQ(m.wrong_arguments, 1);
  EXPECT_EQ(m.wrong_tools, 1);
  EXPECT_EQ(m.unparsed_calls, 1);
  EXPECT_EQ(m.missed_calls, 1);
  EXPECT_EQ(m.unwanted_calls, 2);
  EXPECT_STREQ(mistake_name(TurnMistake::UnwantedCall), "unwanted_call");
  // An ignored key turns a wrong-arguments turn into a right one.
  ArgumentScoring ignore_x;
  ignore_x.ignore_keys.insert("x");
  EXPECT_EQ(turn_mistake(outcomes[1], ignore_x), TurnMistake::None);

  const ToolCallMetrics none = tool_metrics({outcome({}, "Hi")});
  EXPECT_EQ(none.call_turns, 0);
  EXPECT_DOUBLE_EQ(none.name_accuracy, 0.0);
  EXPECT_DOUBLE_EQ(none.valid_call_rate, 0.0);
  EXPECT_DOUBLE_EQ(none.no_call_accuracy, 1.0);
  EXPECT_EQ(tool_metrics({}).turns, 0);
}

}  // namespace
}  // namespace mlxft
