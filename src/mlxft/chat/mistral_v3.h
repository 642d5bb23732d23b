// The Mistral v3 instruct format (Mistral-7B-Instruct-v0.3) behind the chat-format seam.
//
// Contract:
// - render_mistral_v3() produces the same ids as mistral-common's
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
// - Throws mlxft::Error (Model) if the tokenizer lacks the v3 control tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

Rendered render_mistral_v3(const Conversation& conversation, const Tokenizer& tokenizer);

class MistralV3Format final : public ChatFormat {
 public:
  explicit MistralV3Format(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  Rendered render(const Conversation& conversation) const override {
    return render_mistral_v3(conversation, tokenizer_);
  }
  std::vector<int32_t> generation_prompt(const Conversation& conversation) const override;
  std::vector<int32_t> stop_ids() const override { return {tokenizer_.eos_id()}; }
  std::string name() const override { return "mistral-v3"; }
  CallSyntax call_syntax() const override { return {"[TOOL_CALLS]", true, ""}; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }

 private:
  const Tokenizer& tokenizer_;
};

}  // namespace mlxft
