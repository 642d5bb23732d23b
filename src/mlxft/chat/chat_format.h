// The chat-format seam: everything that differs between model families' chat formats.
//
// Implementations: Mistral v3 instruct (mistral_v3.h) and ChatML with Hermes tool calls (chatml.h),
// each one row of the registry in chat_format.cpp (name, other spellings, factory, template
// recognition), from which chat_format_names(), make_chat_format() and detect_chat_format() derive.
// A new format is one class here plus one row; a class that misses a part below does not compile.
// Contract:
// - render(conversation) gives the ids of the whole conversation and a loss mask of the same
//   length: mask[t] = 1 exactly for the tokens of assistant turns that are trained (their text
//   minus untrained spans, their tool calls, their end-of-turn token). Raw-text conversations
//   are BOS text EOS with everything after BOS trained.
// - tools_text(tools) is the tool catalogue (conversation.tools) as the format writes it inside
//   the prompt; render() places it where the format puts it.
// - generation_prompt(conversation) gives the ids to feed before generating the next assistant
//   turn: the conversation (whose last message is not an assistant's) followed by whatever opens
//   an assistant turn.
// - stop_ids() are the ids that end an assistant turn; generation stops at any of them.
// - parse_tool_calls(text) reads the calls of one model output (text_keeping_controls() form):
//   the format's own calls when its call marker is in the text (parse_native_calls()), else the
//   seed's plain-text blocks (tool_call.h parse_plain_tool_calls()). Never throws: any bytes are a
//   possible model output (a parser failure is made_call without valid).
// - ollama_template() is an Ollama Modelfile TEMPLATE (Go template syntax) that renders what the
//   format renders, and the stop strings it needs (the pieces of stop_ids(), then any more).
// - name() is the name recipes and flags use (chat_format_names()).
// - call_syntax() says how the format writes tool calls (what constrained decoding enforces,
//   eval/call_constraint.h): the text that opens them, whether they form one JSON list, and the
//   text that closes each block ("" when the turn's stop token does).
// - A format keeps a reference to its tokenizer: the tokenizer must outlive it. Missing special
//   tokens are a Model error naming the tokenizer file, raised when they are first needed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/conversation.h"
#include "mlxft/chat/tool_call.h"
#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

struct Rendered {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
};

struct OllamaTemplate {
  std::string text;                // the TEMPLATE body
  std::vector<std::string> stops;  // one PARAMETER stop each, in order
};

// How strongly a model's chat template and vocabulary point at a format: detect_chat_format()
// takes the strongest (ties: the earlier registry row).
enum class TemplateMatch { None, VocabularyOnly, TemplateOnly, TemplateAndVocabulary };

struct CallSyntax {
  std::string opener;  // "<tool_call>", "[TOOL_CALLS]"
  bool list = false;   // the calls are one JSON list ([{...}, {...}]), not one object per block
  std::string closer;  // "</tool_call>"; "" when the turn's stop token closes the calls
};

class ChatFormat {
 public:
  virtual ~ChatFormat() = default;
  virtual Rendered render(const Conversation& conversation) const = 0;
  virtual std::string tools_text(const OrderedJson& tools) const = 0;
  virtual std::vector<int32_t> generation_prompt(const Conversation& conversation) const = 0;
  virtual std::vector<int32_t> stop_ids() const = 0;
  ParsedCalls parse_tool_calls(std::string_view text) const;
  virtual OllamaTemplate ollama_template() const = 0;
  virtual std::string name() const = 0;
  virtual CallSyntax call_syntax() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;

 protected:
  // The format's own calls, or nullopt when its call marker is not in the text. May throw.
  virtual std::optional<ParsedCalls> parse_native_calls(std::string_view text) const = 0;
  // The pieces of stop_ids(), for ollama_template().
  std::vector<std::string> stop_pieces() const;
};

// Every format name make_chat_format() accepts: "mistral-v3", "chatml" ("mistral_v3" is accepted
// as another spelling of "mistral-v3").
const std::vector<std::string>& chat_format_names();
// The names a recipe's data.chat_format and --chat-format take: "auto" then chat_format_names().
const std::vector<std::string>& chat_format_choice_names();

// The format called `name` over `tokenizer`; an unknown name is a Config error naming `where`.
std::unique_ptr<ChatFormat> make_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                             const std::string& where = "chat format");

// The format a model's own chat template (GGUF tokenizer.chat_template, tokenizer_config.json's
// chat_template; "" when it has none) calls for: ChatML markers (<|im_start|>, with the
// <|im_start|>/<|im_end|> special tokens in the vocabulary) -> "chatml"; [INST] -> "mistral-v3";
// no template and a SentencePiece tokenizer with [INST]/[/INST] control tokens -> "mistral-v3".
// Anything else is a Config error naming `where` that lists the supported formats.
std::string detect_chat_format(const std::string& chat_template, const Tokenizer& tokenizer,
                               const std::string& where);

// make_chat_format(), with "auto" resolved by detect_chat_format().
std::unique_ptr<ChatFormat> resolve_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                                const std::string& chat_template, const std::string& where);

}  // namespace mlxft
