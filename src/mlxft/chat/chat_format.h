// The chat-format seam: how a conversation becomes token ids for one model family.
//
// Implementations: Mistral v3 instruct (mistral_v3.h) today; ChatML next.
// Contract:
// - render(conversation) gives the ids of the whole conversation and a loss mask of the same
//   length: mask[t] = 1 exactly for the tokens of assistant turns that are trained (their text
//   minus untrained spans, their tool calls, their end-of-turn token). Raw-text conversations
//   are BOS text EOS with everything after BOS trained.
// - generation_prompt(conversation) gives the ids to feed before generating the next assistant
//   turn: the conversation (whose last message is not an assistant's) followed by whatever opens
//   an assistant turn.
// - stop_ids() are the ids that end an assistant turn; generation stops at any of them.
// - name() is the name recipes and flags use (chat_format_names()).
// - A format keeps a reference to its tokenizer: the tokenizer must outlive it. Missing special
//   tokens are a Model error naming the tokenizer file, raised when they are first needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/conversation.h"
#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

struct Rendered {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
};

class ChatFormat {
 public:
  virtual ~ChatFormat() = default;
  virtual Rendered render(const Conversation& conversation) const = 0;
  virtual std::vector<int32_t> generation_prompt(const Conversation& conversation) const = 0;
  virtual std::vector<int32_t> stop_ids() const = 0;
  virtual std::string name() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
};

// Every name make_chat_format() accepts: "mistral_v3".
const std::vector<std::string>& chat_format_names();

// The format called `name` over `tokenizer`; an unknown name is a Config error naming `where`.
std::unique_ptr<ChatFormat> make_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                             const std::string& where = "chat format");

}  // namespace mlxft
