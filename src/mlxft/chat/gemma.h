// Gemma's turn format (Gemma 2/3: <start_of_turn>user ... <end_of_turn>) behind the chat-format seam.
//
// Contract:
// - A conversation renders as BOS, then per message <start_of_turn>{role}\n{content}<end_of_turn>\n
//   with role "user" or "model" (the assistant), as Gemma 3's chat template writes it. Gemma has no
//   system role: a first system message becomes the first user turn's prefix, "{system}\n\n" (the
//   template's first_user_prefix); a conversation that starts with the model's turn gets the prefix
//   in a user turn of its own. Contents are rendered as given (the template trims them: data with
//   surrounding whitespace renders differently from the template).
// - Tools (Gemma 3 has no documented tool-calling convention; this is mlxft's choice, Hermes-style as
//   in ChatML): the catalogue is part of the first user turn's prefix (tools_text(): one JSON per line
//   inside <tools></tools> and the <tool_call> instructions); a model turn writes its text then, per
//   call, \n<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>; consecutive tool results
//   share one user turn, each as \n<tool_response>\n{content}\n</tool_response>. The tags are plain
//   text in Gemma's vocabulary.
// - Special tokens (<start_of_turn>, <end_of_turn>, BOS) are inserted by id, the text between them
//   encoded as one segment.
// - mask[t] = 1 exactly for a model turn's tokens after "<start_of_turn>model\n" (minus untrained
//   spans) and its <end_of_turn>; the "\n" after it, prompts and tool results are never trained.
// - Raw-text conversations: BOS text EOS, all but BOS trained.
// - generation_prompt() is the render followed by <start_of_turn>model\n; stop ids are <end_of_turn>
//   and the tokenizer's EOS. Tool calls in an output are the <tool_call> blocks (as ChatML's).
// - Recognised from a chat template holding <start_of_turn>, or with no template from a vocabulary
//   with the <start_of_turn>/<end_of_turn> control tokens (the base Gemma 3 GGUF has no template).
// - Throws mlxft::Error (Model) naming the tokenizer file if it lacks those tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

class GemmaFormat final : public ChatFormat {
 public:
  static constexpr std::string_view kName = "gemma";
  static constexpr std::string_view kTemplateMarker = "<start_of_turn>";
  static constexpr std::string_view kVocabularyMarker = "<start_of_turn>";
  static TemplateMatch match_template(const std::string& chat_template, const Tokenizer& tokenizer);

  explicit GemmaFormat(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
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
