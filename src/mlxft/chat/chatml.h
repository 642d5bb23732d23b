// The ChatML format (SmolLM2, Qwen2.5, Hermes) behind the chat-format seam, with Hermes/Qwen2.5
// tool calls.
//
// Contract:
// - Each message renders as <|im_start|>{role}\n{content}<|im_end|>\n, in conversation order.
//   When the first message is not a system message, a system turn holding the format's default
//   system prompt (a constructor parameter, SmolLM2's by default) comes first.
// - With tools, the first system turn's content is followed by Qwen2.5's tools section: the
//   tools (one JSON per line, json.dumps form) inside <tools></tools> and the <tool_call>
//   instructions.
// - An assistant turn with tool calls renders its text (if any) then, per call,
//   \n<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>. Consecutive tool messages
//   share one user turn, each result as \n<tool_response>\n{content}\n</tool_response>.
// - Special tokens (<|im_start|>, <|im_end|>) are inserted by id; the text between two of them is
//   encoded as one segment, which is what Hugging Face's tokenizer does with the rendered string.
//   So a text-only conversation gives the ids of transformers' apply_chat_template(tokenize=True)
//   with SmolLM2's own template.
// - mask[t] = 1 exactly for the tokens of assistant turns after "<|im_start|>assistant\n": text
//   (minus untrained spans), <tool_call> blocks and the closing <|im_end|>; a token that straddles
//   the header and the content counts as content. Prompts, tool results and the "\n" after
//   <|im_end|> are never trained.
// - Raw-text conversations render as text then EOS (no BOS), all trained.
// - generation_prompt() is the render followed by <|im_start|>assistant\n; stop ids are
//   <|im_end|> and the tokenizer's EOS.
// - Tool calls in an output: each "<tool_call>{...}</tool_call>" block holds one {"name",
//   "arguments"} (an unterminated last block runs to the end of the text).
// - Recognised from a chat template holding <|im_start|> when the vocabulary has the
//   <|im_start|>/<|im_end|> special tokens. The Ollama template renders a system turn when there
//   is one, every message, then the assistant's turn opened; it stops at the stop ids' pieces.
// - Throws mlxft::Error (Model) naming the tokenizer file if it lacks <|im_start|>/<|im_end|>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

// SmolLM2's default system prompt, as its chat template writes it.
inline constexpr const char* kSmolLm2SystemPrompt =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

class ChatMlFormat final : public ChatFormat {
 public:
  static constexpr std::string_view kName = "chatml";
  static constexpr std::string_view kTemplateMarker = "<|im_start|>";
  static constexpr std::string_view kVocabularyMarker = "";
  static TemplateMatch match_template(const std::string& chat_template, const Tokenizer& tokenizer);

  explicit ChatMlFormat(const Tokenizer& tokenizer, std::string default_system = kSmolLm2SystemPrompt)
      : tokenizer_(tokenizer), default_system_(std::move(default_system)) {}
  Rendered render(const Conversation& conversation) const override;
  std::string tools_text(const OrderedJson& tools) const override;
  std::vector<int32_t> generation_prompt(const Conversation& conversation) const override;
  std::vector<int32_t> stop_ids() const override;
  OllamaTemplate ollama_template() const override;
  std::string name() const override { return std::string(kName); }
  CallSyntax call_syntax() const override { return {"<tool_call>", false, "</tool_call>"}; }
  const Tokenizer& tokenizer() const override { return tokenizer_; }

 protected:
  std::optional<ParsedCalls> parse_native_calls(std::string_view text) const override;

 private:
  const Tokenizer& tokenizer_;
  std::string default_system_;
};

}  // namespace mlxft
