// Phi-3's turn format (<|user|>\n ... <|end|>\n<|assistant|>\n ... <|end|>\n) behind the chat-format seam.
//
// Contract:
// - A conversation renders as, per message, <|{role}|>\n{content}<|end|>\n with role system, user or
//   assistant, then the tokenizer's EOS, as the chat template of Phi-3-mini (its current revision) and
//   Phi-3.5-mini writes it without a generation prompt (no BOS: the template writes none). Contents
//   are rendered as given.
// - Tools (Phi-3 has no documented tool-calling convention; mlxft's choice, Hermes-style as in ChatML
//   and Gemma): the catalogue (tools_text()) ends the first system turn's content after "\n\n", or is
//   a system turn of its own when there is none; an assistant turn writes its text then, per call,
//   \n<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>; consecutive tool results share
//   one user turn, each as <tool_response>\n{content}\n</tool_response> (joined by "\n"). The tags
//   are plain text in Phi-3's vocabulary.
// - Special tokens (<|system|>, <|user|>, <|assistant|>, <|end|>, EOS) are inserted by id, the text
//   between them encoded as one segment.
// - mask[t] = 1 exactly for an assistant turn's tokens after "<|assistant|>\n" (minus untrained
//   spans) and its <|end|>; the "\n" after it, prompts, tool results and the final EOS are never
//   trained.
// - Raw-text conversations: text EOS, all trained.
// - generation_prompt() is the render without its EOS, followed by <|assistant|>\n (the template's
//   add_generation_prompt); stop ids are <|end|> and the tokenizer's EOS. Tool calls in an output are
//   the <tool_call> blocks.
// - Recognised from a chat template holding <|user|> and <|end|>, or with no template from a
//   vocabulary with the <|user|>/<|assistant|>/<|end|> control tokens.
// - Throws mlxft::Error (Model) naming the tokenizer file if it lacks those tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

class Phi3Format final : public ChatFormat {
 public:
  static constexpr std::string_view kName = "phi3";
  static constexpr std::string_view kTemplateMarker = "<|user|>";
  static constexpr std::string_view kVocabularyMarker = "<|user|>";
  static TemplateMatch match_template(const std::string& chat_template, const Tokenizer& tokenizer);

  explicit Phi3Format(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
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
};

}  // namespace mlxft
