// Gemma's turn format: the text of a render is what Gemma 3's chat template writes (BOS, user/model
// turns, the system message as the first user turn's prefix), the mask covers exactly the model's
// turns and their <end_of_turn>, tool catalogues, calls and results take mlxft's Hermes-style form,
// and detection picks the format from a template or, with none, from the vocabulary.
#include "mlxft/chat/gemma.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::msg;

// The tiny BPE vocabulary plus Gemma's <bos>, <start_of_turn> and <end_of_turn>; <eos> last.
BpeVocab gemma_vocab() {
  BpeVocab v = test::tiny_vocab();
  for (const char* t : {"<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>"}) {
    v.tokens.push_back(t);
    v.kinds.push_back(BpeTokenKind::Special);
  }
  v.bos_id = static_cast<int32_t>(v.tokens.size()) - 4;
  v.eos_id = static_cast<int32_t>(v.tokens.size()) - 1;
  return v;
}

// The rendered ids as text, special tokens by name; with `trained`, only the trained ones.
std::string text_of(const Tokenizer& tok, const Rendered& r, bool trained = false) {
  std::string s;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    if (trained && !r.mask[i]) continue;
    const std::string piece = tok.piece(r.ids[i]);
    s += piece.starts_with("<") && piece.size() > 2 && tok.control_id(piece) ? piece : tok.decode({r.ids[i]});
  }
  return s;
}

TEST(GemmaFormat, RendersTheTemplatesTurnsAndTrainsTheModelsTurnsOnly) {
  const BpeTokenizer tok(gemma_vocab());
  const GemmaFormat f(tok);
  Conversation c;
  c.messages = {msg(Role::System, "Be brief."), msg(Role::User, "hello"), msg(Role::Assistant, "aaw hi"),
                msg(Role::User, "again"), msg(Role::Assistant, "ok")};
  const Rendered r = f.render(c);
  ASSERT_EQ(r.ids.size(), r.mask.size());
  EXPECT_EQ(text_of(tok, r),
            "<bos><start_of_turn>user\nBe brief.\n\nhello<end_of_turn>\n<start_of_turn>model\naaw hi<end_of_turn>\n"
            "<start_of_turn>user\nagain<end_of_turn>\n<start_of_turn>model\nok<end_of_turn>\n");
  EXPECT_EQ(text_of(tok, r, true), "aaw hi<end_of_turn>ok<end_of_turn>");
  EXPECT_EQ(f.stop_ids(), (std::vector<int32_t>{*tok.control_id("<end_of_turn>"), tok.eos_id()}));
  c.messages.pop_back();
  const std::vector<int32_t> prompt = f.generation_prompt(c);
  EXPECT_EQ(text_of(tok, {prompt, std::vector<uint8_t>(prompt.size(), 0)}).substr(text_of(tok, f.render(c)).size()),
            "<start_of_turn>model\n");
}

TEST(GemmaFormat, ToolsCallsAndResultsTakeTheHermesForm) {
  const BpeTokenizer tok(gemma_vocab());
  const GemmaFormat f(tok);
  Conversation c;
  c.tools = OrderedJson::parse(R"([{"type": "function", "function": {"name": "get", "parameters": {}}}])");
  Message call = msg(Role::Assistant, "");
  call.tool_calls.push_back({"id1", "get", OrderedJson::parse(R"({"city": "Paris"})")});
  c.messages = {msg(Role::User, "weather?"), call, msg(Role::Tool, "{\"t\": 20}"), msg(Role::Tool, "x"),
                msg(Role::Assistant, "20")};
  const Rendered r = f.render(c);
  const std::string text = text_of(tok, r);
  EXPECT_EQ(text.find("<bos><start_of_turn>user\n" + f.tools_text(c.tools) + "\n\nweather?<end_of_turn>\n"), 0u)
      << text;
  EXPECT_NE(text.find("<start_of_turn>model\n<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Paris\"}}\n"
                      "</tool_call><end_of_turn>\n<start_of_turn>user\n<tool_response>\n{\"t\": 20}\n"
                      "</tool_response>\n<tool_response>\nx\n</tool_response><end_of_turn>\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text_of(tok, r, true),
            "<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><end_of_turn>20<end_of_turn>");
  const ParsedCalls p = f.parse_tool_calls("<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>");
  EXPECT_TRUE(p.made_call && p.valid);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "get");
}

TEST(GemmaFormat, DetectedFromItsTemplateOrFromTheVocabularyWithoutOne) {
  const BpeTokenizer tok(gemma_vocab());
  EXPECT_EQ(detect_chat_format("{{ bos_token }}<start_of_turn>user", tok, "k"), "gemma");
  EXPECT_EQ(detect_chat_format("", tok, "k"), "gemma");  // the base Gemma 3 GGUF has no template
  EXPECT_EQ(make_chat_format("gemma", tok)->name(), "gemma");
  const BpeTokenizer plain(test::tiny_vocab());
  EXPECT_EQ(GemmaFormat::match_template("<start_of_turn>", plain), TemplateMatch::None);  // no such tokens
}

}  // namespace
}  // namespace mlxft
