// Phi-3's turn format: the text of a render is what Phi-3.5-mini's chat template writes (system, user
// and assistant turns closed by <|end|>\n, EOS last), the mask covers exactly the assistant's turns and
// their <|end|>, tool catalogues, calls and results take mlxft's Hermes-style form, and detection picks
// the format from a template or, with none, from the vocabulary.
#include "mlxft/chat/phi3.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::msg;

// The tiny BPE vocabulary plus Phi-3's control tokens; <|endoftext|> (EOS) last.
BpeVocab phi3_vocab() {
  BpeVocab v = test::tiny_vocab();
  for (const char* t : {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>"}) {
    v.tokens.push_back(t);
    v.kinds.push_back(BpeTokenKind::Special);
  }
  v.bos_id = -1;
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

TEST(Phi3Format, RendersTheTemplatesTurnsAndTrainsTheAssistantsTurnsOnly) {
  const BpeTokenizer tok(phi3_vocab());
  const Phi3Format f(tok);
  Conversation c;
  c.messages = {msg(Role::System, "Be brief."), msg(Role::User, "hello"), msg(Role::Assistant, "aaw hi"),
                msg(Role::User, "again"), msg(Role::Assistant, "ok")};
  const Rendered r = f.render(c);
  ASSERT_EQ(r.ids.size(), r.mask.size());
  EXPECT_EQ(text_of(tok, r),
            "<|system|>\nBe brief.<|end|>\n<|user|>\nhello<|end|>\n<|assistant|>\naaw hi<|end|>\n"
            "<|user|>\nagain<|end|>\n<|assistant|>\nok<|end|>\n<|endoftext|>");
  EXPECT_EQ(text_of(tok, r, true), "aaw hi<|end|>ok<|end|>");
  EXPECT_EQ(f.stop_ids(), (std::vector<int32_t>{*tok.control_id("<|end|>"), tok.eos_id()}));
  c.messages.pop_back();
  const std::vector<int32_t> prompt = f.generation_prompt(c);
  const std::string rendered = text_of(tok, f.render(c));
  const std::string without_eos = rendered.substr(0, rendered.size() - std::string("<|endoftext|>").size());
  EXPECT_EQ(text_of(tok, {prompt, std::vector<uint8_t>(prompt.size(), 0)}), without_eos + "<|assistant|>\n");
}

TEST(Phi3Format, ToolsCallsAndResultsTakeTheHermesForm) {
  const BpeTokenizer tok(phi3_vocab());
  const Phi3Format f(tok);
  Conversation c;
  c.tools = OrderedJson::parse(R"([{"type": "function", "function": {"name": "get", "parameters": {}}}])");
  Message call = msg(Role::Assistant, "");
  call.tool_calls.push_back({"id1", "get", OrderedJson::parse(R"({"city": "Paris"})")});
  c.messages = {msg(Role::User, "weather?"), call, msg(Role::Tool, "{\"t\": 20}"), msg(Role::Tool, "x"),
                msg(Role::Assistant, "20")};
  const Rendered r = f.render(c);
  const std::string text = text_of(tok, r);
  EXPECT_EQ(text.find("<|system|>\n" + f.tools_text(c.tools) + "<|end|>\n<|user|>\nweather?<|end|>\n"), 0u) << text;
  EXPECT_NE(text.find("<|assistant|>\n<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Paris\"}}\n"
                      "</tool_call><|end|>\n<|user|>\n<tool_response>\n{\"t\": 20}\n"
                      "</tool_response>\n<tool_response>\nx\n</tool_response><|end|>\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text_of(tok, r, true),
            "<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|end|>20<|end|>");
  c.messages.insert(c.messages.begin(), msg(Role::System, "Sys."));
  EXPECT_EQ(text_of(tok, f.render(c)).find("<|system|>\nSys.\n\n" + f.tools_text(c.tools) + "<|end|>\n<|user|>"), 0u);
  const ParsedCalls p = f.parse_tool_calls("<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>");
  EXPECT_TRUE(p.made_call && p.valid);
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "get");
}

TEST(Phi3Format, DetectedFromItsTemplateOrFromTheVocabularyWithoutOne) {
  const BpeTokenizer tok(phi3_vocab());
  EXPECT_EQ(detect_chat_format("{% for message in messages %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}",
                               tok, "k"),
            "phi3");
  EXPECT_EQ(detect_chat_format("", tok, "k"), "phi3");
  EXPECT_EQ(make_chat_format("phi3", tok)->name(), "phi3");
  const BpeTokenizer plain(test::tiny_vocab());
  EXPECT_EQ(Phi3Format::match_template("<|user|><|end|>", plain), TemplateMatch::None);  // no such tokens
}

}  // namespace
}  // namespace mlxft
