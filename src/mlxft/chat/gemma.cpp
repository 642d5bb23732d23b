// The Gemma turn renderer (see gemma.h).
#include "mlxft/chat/gemma.h"

#include <string>
#include <utility>

#include "mlxft/chat/hermes.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

constexpr const char* kStart = "<start_of_turn>";
constexpr const char* kEnd = "<end_of_turn>";
// Ollama: the system prompt as the first user turn's prefix, every message, the model's turn opened.
constexpr const char* kOllamaTemplate =
    "{{- range $i, $_ := .Messages }}"
    "{{- if eq .Role \"assistant\" }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n"
    "{{- else }}<start_of_turn>user\n{{ if and (eq $i 0) $.System }}{{ $.System }}\n\n{{ end }}"
    "{{ .Content }}<end_of_turn>\n{{- end }}{{ end }}<start_of_turn>model\n";

struct Builder : MaskedIds {
  int32_t start, end;

  // <start_of_turn>user\n{content}<end_of_turn>\n, untrained.
  void user_turn(const std::string& content) {
    push(start, false);
    text("user\n" + content, false);
    push(end, false);
    text("\n", false);
  }
};

void model_turn(Builder& b, const Message& m) {
  b.hermes_reply(b.start, "model\n", m, b.end);
}

Rendered render_gemma(const Conversation& conv, const Tokenizer& tok, const std::string& tools) {
  Builder b{{tok, {}}, tok.require_control_id(kStart), tok.require_control_id(kEnd)};
  if (tok.bos_id() >= 0) b.push(tok.bos_id(), false);
  if (conv.raw_text) {
    for (const auto& m : conv.messages) b.text(m.content, true);
    if (tok.eos_id() >= 0) b.push(tok.eos_id(), true);
    return std::move(b.out);
  }
  const auto& ms = conv.messages;
  size_t i = 0;
  std::string prefix = tools.empty() ? "" : tools + "\n\n";
  if (!ms.empty() && ms.front().role == Role::System) prefix = ms.front().content + "\n\n" + prefix, i = 1;
  if (!prefix.empty() && (i == ms.size() || ms[i].role != Role::User)) b.user_turn(prefix), prefix.clear();
  for (; i < ms.size(); ++i) {
    const auto& m = ms[i];
    if (m.role == Role::Assistant) {
      model_turn(b, m);
    } else if (m.role == Role::Tool) {
      size_t j = i;
      while (j < ms.size() && ms[j].role == Role::Tool) ++j;
      b.user_turn(hermes_tool_responses(ms, i, j).substr(1));
      i = j - 1;
    } else {  // user, or a later system message (Gemma has no system turn)
      b.user_turn(prefix + m.content);
      prefix.clear();
    }
  }
  return std::move(b.out);
}

}  // namespace

TemplateMatch GemmaFormat::match_template(const std::string& chat_template, const Tokenizer& tokenizer) {
  if (!tokenizer.control_id(kStart) || !tokenizer.control_id(kEnd)) return TemplateMatch::None;
  if (chat_template.find(kTemplateMarker) != std::string::npos) return TemplateMatch::TemplateAndVocabulary;
  return chat_template.empty() ? TemplateMatch::VocabularyOnly : TemplateMatch::None;
}

std::string GemmaFormat::tools_text(const OrderedJson& tools) const {
  return hermes_tools_text(tools);
}

Rendered GemmaFormat::render(const Conversation& conversation) const {
  return render_gemma(conversation, tokenizer_,
                      conversation.tools.empty() ? std::string() : tools_text(conversation.tools));
}

std::vector<int32_t> GemmaFormat::generation_prompt(const Conversation& conversation) const {
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
  r.ids.push_back(tokenizer_.require_control_id(kStart));
  for (int32_t id : tokenizer_.encode("model\n")) r.ids.push_back(id);
  return std::move(r.ids);
}

std::vector<int32_t> GemmaFormat::stop_ids() const {
  std::vector<int32_t> ids = {tokenizer_.require_control_id(kEnd)};
  if (tokenizer_.eos_id() >= 0 && tokenizer_.eos_id() != ids.front()) ids.push_back(tokenizer_.eos_id());
  return ids;
}

std::optional<ParsedCalls> GemmaFormat::parse_native_calls(std::string_view text) const {
  return parse_hermes_calls(text);
}

OllamaTemplate GemmaFormat::ollama_template() const {
  return {kOllamaTemplate, stop_pieces()};
}

}  // namespace mlxft
