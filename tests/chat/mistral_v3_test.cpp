#include "mlxft/chat/mistral_v3.h"

#include <gtest/gtest.h>

#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "support/test_support.h"

using namespace mlxft;

namespace {

using test::msg;

struct Expect {
  const Tokenizer& tok;
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
  void id(int32_t i, bool trained) {
    ids.push_back(i);
    mask.push_back(trained);
  }
  void text(const std::string& s, bool trained) {
    for (int32_t i : tok.encode(s)) id(i, trained);
  }
};

}  // namespace

// The mask definition: exactly the assistant turns' tokens are trained (text,
// [TOOL_CALLS] and its JSON, the closing </s>); system, user, tools, tool
// results and the [INST]/[/INST]/[TOOL_RESULTS] markers are not.
TEST(Render, MaskCoversExactlyTheAssistantTurns) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  Conversation c;
  c.messages.push_back(msg(Role::System, "Sys."));
  c.messages.push_back(msg(Role::User, "Hi"));
  c.messages.push_back(msg(Role::Assistant, "Hello there.  "));
  c.messages.push_back(msg(Role::User, "More"));
  Message call;
  call.role = Role::Assistant;
  call.tool_calls.push_back(ToolCall{"abcDEF123", "f", OrderedJson::parse(R"({"k": "v"})")});
  c.messages.push_back(call);
  Message result = msg(Role::Tool, "ok");
  result.tool_call_id = "abcDEF123";
  result.tool_result = "ok";
  c.messages.push_back(result);
  c.messages.push_back(msg(Role::Assistant, "Done."));
  c.tools = OrderedJson::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");

  Expect e{tok, {}, {}};
  e.id(1, false);
  e.id(3, false), e.text("Hi", false), e.id(4, false);
  e.text("Hello there.", true), e.id(2, true);
  e.id(6, false),
      e.text(R"([{"type": "function", "function": {"name": "f", "description": "", "parameters": {}}}])",
             false);
  e.id(7, false);
  e.id(3, false), e.text("Sys.\n\nMore", false), e.id(4, false);
  e.id(5, true), e.text(R"([{"name": "f", "arguments": {"k": "v"}, "id": "abcDEF123"}])", true),
      e.id(2, true);
  e.id(8, false), e.text(R"({"content": "ok", "call_id": "abcDEF123"})", false), e.id(9, false);
  e.text("Done.", true), e.id(2, true);

  const auto r = MistralV3Format(tok).render(c);
  EXPECT_EQ(r.ids, e.ids);
  EXPECT_EQ(r.mask, e.mask);
}

TEST(Render, UntrainedSpansMaskTheResultTextOnly) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  Conversation c;
  c.messages.push_back(msg(Role::User, "Q"));
  Message a = msg(Role::Assistant, "tool_call: f\narguments: {}\n\nResult: {\"secret\": 42}\n\nAnswer.");
  const size_t b = a.content.find("Result:");
  a.untrained_spans.emplace_back(b, a.content.find("\n\nAnswer"));
  c.messages.push_back(a);
  const auto r = MistralV3Format(tok).render(c);
  std::vector<int32_t> trained, untrained;
  for (size_t i = 0; i < r.ids.size(); ++i) (r.mask[i] ? trained : untrained).push_back(r.ids[i]);
  const auto t = tok.decode(trained);
  EXPECT_NE(t.find("tool_call: f"), std::string::npos);
  EXPECT_NE(t.find("Answer."), std::string::npos);
  EXPECT_EQ(t.find("Result"), std::string::npos);
  EXPECT_EQ(t.find("secret"), std::string::npos);
  EXPECT_NE(tok.decode(untrained).find("secret\": 42"), std::string::npos);
  EXPECT_EQ(r.ids.back(), 2);
  EXPECT_EQ(r.mask.back(), 1);
}

TEST(Render, RawTextTrainsEverythingButBos) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  Conversation c;
  c.raw_text = true;
  c.messages.push_back(msg(Role::Assistant, "plain text"));
  const auto r = MistralV3Format(tok).render(c);
  ASSERT_EQ(r.ids.size(), tok.encode("plain text").size() + 2);
  EXPECT_EQ(r.ids.front(), 1);
  EXPECT_EQ(r.mask.front(), 0);
  EXPECT_EQ(r.ids.back(), 2);
  for (size_t i = 1; i < r.mask.size(); ++i) EXPECT_EQ(r.mask[i], 1);
}
