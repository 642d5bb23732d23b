// The ChatML renderer (see chatml.h).
#include "mlxft/chat/chatml.h"

#include <string>
#include <utility>

#include "mlxft/chat/hermes.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

constexpr const char* kImStart = "<|im_start|>";
constexpr const char* kImEnd = "<|im_end|>";
// Ollama: a system turn when there is one, every message, then the assistant's turn opened.
constexpr const char* kOllamaTemplate =
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n";

struct Builder : MaskedIds {
  int32_t im_start, im_end;

  // <|im_start|>{role}\n{content}<|im_end|>\n, untrained.
  void turn(const std::string& role, const std::string& content) {
    push(im_start, false);
    text(role + "\n" + content, false);
    push(im_end, false);
    text("\n", false);
  }
};

void assistant_turn(Builder& b, const Message& m) {
  const std::string header = "assistant\n";
  b.push(b.im_start, false);
  if (m.tool_calls.empty()) {
    ByteSpans spans;
    for (const auto& [s, e] : m.untrained_spans) spans.emplace_back(s + header.size(), e + header.size());
    b.segment(header + m.content, header.size(), spans);
  } else {
    // "assistant" + ("\n" + text) + per call "\n<tool_call>\n{...}\n</tool_call>"; the first "\n"
    // is the header's (it ends the generation prompt).
    std::string s = "assistant";
    if (!m.content.empty()) s += "\n" + m.content;
    for (const auto& c : m.tool_calls) s += "\n" + hermes_call_text(c);
    b.segment(s, header.size(), {});
  }
  b.push(b.im_end, true);
  b.text("\n", false);
}

// Tool messages [i, j) as one user turn of <tool_response> blocks.
void tool_turn(Builder& b, const std::vector<Message>& ms, size_t i, size_t j) {
  const std::string s = "user" + hermes_tool_responses(ms, i, j);
  b.push(b.im_start, false);
  b.text(s, false);
  b.push(b.im_end, false);
  b.text("\n", false);
}

// `extra`: the tools section the first system turn ends with ("" without tools).
Rendered render_chatml(const Conversation& conv, const Tokenizer& tok, const std::string& default_system,
                       const std::string& extra) {
  Builder b{{tok, {}}, tok.require_control_id(kImStart), tok.require_control_id(kImEnd)};
  if (conv.raw_text) {
    for (const auto& m : conv.messages) b.text(m.content, true);
    if (tok.eos_id() >= 0) b.push(tok.eos_id(), true);
    return std::move(b.out);
  }
  const auto& ms = conv.messages;
  const bool has_system = !ms.empty() && ms.front().role == Role::System;
  if (!has_system) b.turn("system", default_system + extra);
  for (size_t i = 0; i < ms.size(); ++i) {
    const auto& m = ms[i];
    switch (m.role) {
      case Role::System: b.turn("system", i == 0 ? m.content + extra : m.content); break;
      case Role::User: b.turn("user", m.content); break;
      case Role::Assistant: assistant_turn(b, m); break;
      case Role::Tool: {
        size_t j = i;
        while (j < ms.size() && ms[j].role == Role::Tool) ++j;
        tool_turn(b, ms, i, j);
        i = j - 1;
        break;
      }
    }
  }
  return std::move(b.out);
}

}  // namespace

TemplateMatch ChatMlFormat::match_template(const std::string& chat_template, const Tokenizer& tokenizer) {
  const bool marker = chat_template.find(kTemplateMarker) != std::string::npos;
  return marker && tokenizer.control_id(kImStart) && tokenizer.control_id(kImEnd)
             ? TemplateMatch::TemplateAndVocabulary
             : TemplateMatch::None;
}

std::string ChatMlFormat::tools_text(const OrderedJson& tools) const {
  return "\n\n" + hermes_tools_text(tools);
}

Rendered ChatMlFormat::render(const Conversation& conversation) const {
  return render_chatml(conversation, tokenizer_, default_system_,
                       conversation.tools.empty() ? std::string() : tools_text(conversation.tools));
}

std::vector<int32_t> ChatMlFormat::generation_prompt(const Conversation& conversation) const {
  if (conversation.raw_text) {
    Rendered r = render(conversation);
    if (tokenizer_.eos_id() >= 0) r.ids.pop_back();  // no EOS: the text continues
    return std::move(r.ids);
  }
  if (!conversation.messages.empty() && conversation.messages.back().role == Role::Assistant) {
    throw Error(ErrorKind::Usage, "chat prompt", "the conversation already ends with an assistant turn",
                "end the prompt conversation with a user or tool message");
  }
  Rendered r = render(conversation);
  r.ids.push_back(tokenizer_.require_control_id(kImStart));
  for (int32_t id : tokenizer_.encode("assistant\n")) r.ids.push_back(id);
  return std::move(r.ids);
}

std::vector<int32_t> ChatMlFormat::stop_ids() const {
  std::vector<int32_t> ids = {tokenizer_.require_control_id(kImEnd)};
  if (tokenizer_.eos_id() >= 0 && tokenizer_.eos_id() != ids.front()) ids.push_back(tokenizer_.eos_id());
  return ids;
}

std::optional<ParsedCalls> ChatMlFormat::parse_native_calls(std::string_view text) const {
  return parse_hermes_calls(text);
}

OllamaTemplate ChatMlFormat::ollama_template() const {
  return {kOllamaTemplate, stop_pieces()};
}

}  // namespace mlxft
