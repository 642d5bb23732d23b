// The chat-format seam: the factory, the template recognition, the Ollama templates, the generation
// prompt and the stop ids of Mistral v3.
#include "mlxft/chat/chat_format.h"

#include <gtest/gtest.h>

#include "mlxft/chat/chatml.h"
#include "mlxft/chat/mistral_v3.h"
#include "mlxft/config/schema.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::msg;

TEST(ChatFormat, FactoryKnowsMistralV3AndNamesTheKeyOfAnUnknownName) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const auto format = make_chat_format("mistral-v3", tok);
  EXPECT_EQ(format->name(), "mistral-v3");
  EXPECT_EQ(make_chat_format("mistral_v3", tok)->name(), "mistral-v3");  // the older spelling
  EXPECT_EQ(make_chat_format("chatml", tok)->name(), "chatml");
  EXPECT_EQ(&format->tokenizer(), &tok);
  EXPECT_EQ(chat_format_names(), (std::vector<std::string>{"mistral-v3", "chatml", "gemma", "phi3"}));
  EXPECT_EQ(detect_chat_format("", tok, "k"), "mistral-v3");  // SentencePiece with [INST], no template
  try {
    (void)make_chat_format("llama3", tok, "data.chat_format");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_EQ(e.where(), "data.chat_format");
    EXPECT_NE(e.hint().find("mistral-v3, chatml"), std::string::npos);
  }
}

// The strongest evidence wins: ChatML markers backed by the vocabulary beat a bare [INST]; an
// unknown template names every format's marker.
TEST(ChatFormat, DetectionTakesTheStrongestMatchAndNamesEveryMarker) {
  const BpeTokenizer tiny(test::tiny_vocab());
  EXPECT_EQ(detect_chat_format("<|im_start|>{{ m }} [INST]", tiny, "k"), "chatml");
  EXPECT_EQ(detect_chat_format("[INST] {{ m }}", tiny, "k"), "mistral-v3");
  try {
    (void)detect_chat_format("{{ m }}", tiny, "data.chat_format");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "data.chat_format");
    EXPECT_NE(std::string(e.what()).find("(it has neither <start_of_turn> nor <|im_start|> nor <|user|> nor [INST]): \"{{ m }}\""),
              std::string::npos)
        << e.what();
    EXPECT_NE(e.hint().find("one of: mistral-v3, chatml, gemma, phi3"), std::string::npos);
  }
  try {
    (void)detect_chat_format("", tiny, "k");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its tokenizer (tiny-vocab) has no <start_of_turn> or <|user|> or [INST] control tokens"),
              std::string::npos)
        << e.what();
  }
}

// The Ollama templates as the Modelfile writer wrote them before they moved into the formats.
TEST(ChatFormat, OllamaTemplatesAreTheFormatsOwn) {
  const BpeTokenizer tiny(test::tiny_vocab());
  const OllamaTemplate chatml = ChatMlFormat(tiny).ollama_template();
  EXPECT_EQ(chatml.text,
            "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
            "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
            "<|im_start|>assistant\n");
  EXPECT_EQ(chatml.stops, (std::vector<std::string>{"<|im_end|>"}));  // tiny's EOS is <|im_end|>
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const OllamaTemplate mistral = MistralV3Format(tok).ollama_template();
  EXPECT_EQ(mistral.text,
            "{{- range $i, $_ := .Messages }}"
            "{{- if eq .Role \"user\" }}[INST] {{ if and $.System (eq (len (slice $.Messages $i)) 1) }}"
            "{{ $.System }}\n\n"
            "{{ end }}{{ .Content }}[/INST]"
            "{{- else if eq .Role \"assistant\" }} {{ .Content }}</s>"
            "{{- end }}{{- end }}");
  EXPECT_EQ(mistral.stops, (std::vector<std::string>{"</s>", "[INST]"}));
}

// The generation prompt is the conversation so far with nothing after [/INST]; training renders
// the answer right after it, so the prompt is a prefix of the rendered conversation.
TEST(ChatFormat, MistralV3GenerationPromptIsThePrefixBeforeTheAnswer) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const MistralV3Format format(tok);
  Conversation prompt;
  prompt.messages = {msg(Role::System, "Be brief."), msg(Role::User, "Hi")};
  const auto ids = format.generation_prompt(prompt);
  std::vector<int32_t> want = {1, 3};
  for (int32_t id : tok.encode("Be brief.\n\nHi")) want.push_back(id);
  want.push_back(4);
  EXPECT_EQ(ids, want);

  Conversation full = prompt;
  full.messages.push_back(msg(Role::Assistant, "Hello!"));
  const Rendered r = format.render(full);
  ASSERT_GT(r.ids.size(), ids.size());
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), r.ids.begin()));
  EXPECT_EQ(r.ids.back(), 2);
  EXPECT_EQ(format.stop_ids(), std::vector<int32_t>{2});
  EXPECT_THROW((void)format.generation_prompt(full), Error);  // already answered
}

TEST(ChatFormat, RawTextPromptHasNoEos) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const MistralV3Format format(tok);
  Conversation c;
  c.raw_text = true;
  c.messages = {msg(Role::User, "Once upon a time")};
  std::vector<int32_t> want = {1};
  for (int32_t id : tok.encode("Once upon a time")) want.push_back(id);
  EXPECT_EQ(format.generation_prompt(c), want);
}

// The recipe key takes exactly the names the factory knows, after "auto".
TEST(ChatFormat, RecipeKeyChoicesAreAutoThenTheFactoryNames) {
  const FieldSpec* f = find_field("data", "chat_format");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->constraint.choices, chat_format_choice_names());
  std::vector<std::string> want = {"auto"};
  want.insert(want.end(), chat_format_names().begin(), chat_format_names().end());
  EXPECT_EQ(chat_format_choice_names(), want);
}

}  // namespace
}  // namespace mlxft
