// The Mistral v3 instruct format, built as token ids with a loss mask.
//
// Contract: render_mistral_v3() produces the same ids as mistral-common's
// InstructTokenizerV3.encode_chat_completion for the same conversation
// (consecutive user / assistant messages merged with "\n\n", system messages
// joined with "\n\n" and prepended to the last user message, tools in
// [AVAILABLE_TOOLS] before the last [INST], assistant text right-stripped of
// spaces, [TOOL_CALLS] / [TOOL_RESULTS] JSON written like json.dumps). Each
// text segment between control tokens is encoded on its own. mask[t] = 1
// exactly for the tokens of assistant turns: their text (minus untrained
// spans), the [TOOL_CALLS] token and its JSON, and the closing </s>.
// Throws mlxft::Error (Model) if the tokenizer lacks the v3 control tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "mlxft/data/conversation.h"
#include "mlxft/data/tokenizer.h"

namespace mlxft {

struct Rendered {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
};

Rendered render_mistral_v3(const Conversation& conversation, const Tokenizer& tokenizer);

}  // namespace mlxft
