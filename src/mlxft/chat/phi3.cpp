// The Phi-3 turn renderer (see phi3.h).
#include "mlxft/chat/phi3.h"

#include <string>
#include <utility>

#include "mlxft/chat/hermes.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

constexpr const char* kSystem = "<|system|>";
constexpr const char* kUser = "<|user|>";
constexpr const char* kAssistant = "<|assistant|>";
constexpr const char* kEnd = "<|end|>";
// Ollama: the system turn, every message, the assistant's turn opened.
constexpr const char* kOllamaTemplate =
    "{{- if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}"
    "{{- range .Messages }}"
    "{{- if eq .Role \"assistant\" }}<|assistant|>\n{{ .Content }}<|end|>\n"
    "{{- else }}<|user|>\n{{ .Content }}<|end|>\n{{- end }}{{ end }}<|assistant|>\n";

struct Builder : MaskedIds {
  int32_t system, user, assistant, end;

  // <|role|>\n{content}<|end|>\n, untrained.
  void turn(int32_t role, const std::string& content) {
    push(role, false);
    text("\n" + content, false);
    push(end, false);
    text("\n", false);
  }
};

void assistant_turn(Builder& b, const Message& m) {
  b.hermes_reply(b.assistant, "\n", m, b.end);
}

// The render; `eos` ends it with the tokenizer's EOS (the template's closing eos_token).
Rendered render_phi3(const Conversation& conv, const Tokenizer& tok, const std::string& tools, bool eos) {
  Builder b{{tok, {}},
            tok.require_control_id(kSystem),
            tok.require_control_id(kUser),
            tok.require_control_id(kAssistant),
            tok.require_control_id(kEnd)};
  if (conv.raw_text) {
    for (const auto& m : conv.messages) b.text(m.content, true);
    if (eos && tok.eos_id() >= 0) b.push(tok.eos_id(), true);
    return std::move(b.out);
  }
  const auto& ms = conv.messages;
  size_t i = 0;
  if (!tools.empty()) {
    const bool system_first = !ms.empty() && ms.front().role == Role::System;
    b.turn(b.system, system_first ? ms.front().content + "\n\n" + tools : tools);
    i = system_first ? 1 : 0;
  }
  for (; i < ms.size(); ++i) {
    const auto& m = ms[i];
    if (m.role == Role::Assistant) {
      assistant_turn(b, m);
    } else if (m.role == Role::Tool) {
      size_t j = i;
      while (j < ms.size() && ms[j].role == Role::Tool) ++j;
      b.turn(b.user, hermes_tool_responses(ms, i, j).substr(1));
      i = j - 1;
    } else {
      b.turn(m.role == Role::System ? b.system : b.user, m.content);
    }
  }
  if (eos && tok.eos_id() >= 0) b.push(tok.eos_id(), false);
  return std::move(b.out);
}

}  // namespace

TemplateMatch Phi3Format::match_template(const std::string& chat_template, const Tokenizer& tokenizer) {
  if (!tokenizer.control_id(kUser) || !tokenizer.control_id(kAssistant) || !tokenizer.control_id(kEnd))
    return TemplateMatch::None;
  if (chat_template.find(kUser) != std::string::npos && chat_template.find(kEnd) != std::string::npos)
    return TemplateMatch::TemplateAndVocabulary;
  return chat_template.empty() ? TemplateMatch::VocabularyOnly : TemplateMatch::None;
}

std::string Phi3Format::tools_text(const OrderedJson& tools) const {
  return hermes_tools_text(tools);
}

Rendered Phi3Format::render(const Conversation& conversation) const {
  return render_phi3(conversation, tokenizer_,
                     conversation.tools.empty() ? std::string() : tools_text(conversation.tools), true);
}

std::vector<int32_t> Phi3Format::generation_prompt(const Conversation& conversation) const {
  const std::string tools = conversation.tools.empty() ? std::string() : tools_text(conversation.tools);
  if (conversation.raw_text) return std::move(render_phi3(conversation, tokenizer_, tools, false).ids);
  if (!conversation.messages.empty() && conversation.messages.back().role == Role::Assistant) {
    throw Error(ErrorKind::Usage, "chat prompt", "the conversation already ends with an assistant turn",
                "end the prompt conversation with a user or tool message");
  }
  Rendered r = render_phi3(conversation, tokenizer_, tools, false);
  r.ids.push_back(tokenizer_.require_control_id(kAssistant));
  for (int32_t id : tokenizer_.encode("\n")) r.ids.push_back(id);
  return std::move(r.ids);
}

std::vector<int32_t> Phi3Format::stop_ids() const {
  std::vector<int32_t> ids = {tokenizer_.require_control_id(kEnd)};
  if (tokenizer_.eos_id() >= 0 && tokenizer_.eos_id() != ids.front()) ids.push_back(tokenizer_.eos_id());
  return ids;
}

std::optional<ParsedCalls> Phi3Format::parse_native_calls(std::string_view text) const {
  return parse_hermes_calls(text);
}

OllamaTemplate Phi3Format::ollama_template() const {
  return {kOllamaTemplate, stop_pieces()};
}

}  // namespace mlxft
