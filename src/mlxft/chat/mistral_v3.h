// The Mistral v3 instruct format (Mistral-7B-Instruct-v0.3) behind the chat-format seam.
//
// Contract:
// - render() produces the same ids as mistral-common's
//   InstructTokenizerV3.encode_chat_completion for the same conversation:
//   - consecutive user / assistant messages merged with "\n\n";
//   - system messages joined with "\n\n" and prepended to the last user message;
//   - tools in [AVAILABLE_TOOLS] before the last [INST];
//   - assistant text right-stripped of spaces;
//   - [TOOL_CALLS] / [TOOL_RESULTS] JSON written like Python's json.dumps;
//   - each text segment between control tokens encoded on its own.
// - mask[t] = 1 exactly for the tokens of assistant turns: their text (minus untrained spans),
//   the [TOOL_CALLS] token and its JSON, and the closing </s>.
// - The generation prompt is the render of a conversation ending in a user (or tool) turn: an
//   assistant turn opens with no token of its own. The stop id is </s>.
// - Tool calls in an output: "[TOOL_CALLS]" then a JSON array (or one object) of {"name",
//   "arguments", ...}, up to a "</s>" if the text kept one.
// - Recognised from a chat template holding [INST], or from no template with a SentencePiece
//   vocabulary that has the [INST]/[/INST] control tokens. The Ollama template writes
//   [INST] user [/INST] assistant</s> with the system prompt before the last user message; it
//   stops at </s> and [INST].
// - Throws mlxft::Error (Model) if the tokenizer lacks the v3 control tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

class MistralV3Format final : public ChatFormat {
 public:
  static constexpr std::string_view kName = "mistral-v3";
  static constexpr std::string_view kTemplateMarker = "[INST]";
  static constexpr std::string_view kVocabularyMarker = "[INST]";
  static TemplateMatch match_template(const std::string& chat_template, const Tokenizer& tokenizer);

  explicit MistralV3Format(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  Rendered render(const Conversation& conversation) const override;
  std::string tools_text(const OrderedJson& tools) const override;
  std::vector<int32_t> generation_prompt(const Conversation& conversation) const override;
  std::vector<int32_t> stop_ids() const override { return {tokenizer_.eos_id()}; }
  OllamaTemplate ollama_template() const override;
  std::string name() const override { return std::string(kName); }
  CallSyntax call_syntax() const override { return {"[TOOL_CALLS]", true, ""}; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }

 protected:
  std::optional<ParsedCalls> parse_native_calls(std::string_view text) const override;

 private:
  const Tokenizer& tokenizer_;
};

}  // namespace mlxft
