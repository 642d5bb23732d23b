// The Mistral v3 renderer (see mistral_v3.h).
#include "mlxft/chat/mistral_v3.h"

#include <string>

#include "mlxft/util/error.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

namespace {

constexpr std::string_view kCalls = "[TOOL_CALLS]";

// Ollama: [INST] user [/INST] assistant</s>, the system prompt before the last user message.
constexpr const char* kOllamaTemplate =
    "{{- range $i, $_ := .Messages }}"
    "{{- if eq .Role \"user\" }}[INST] {{ if and $.System (eq (len (slice $.Messages $i)) 1) }}{{ $.System "
    "}}\n\n"
    "{{ end }}{{ .Content }}[/INST]"
    "{{- else if eq .Role \"assistant\" }} {{ .Content }}</s>"
    "{{- end }}{{- end }}";

struct Builder {
  const Tokenizer& tok;
  Rendered out;

  void control(const char* piece, bool trained) { push(tok.require_control_id(piece), trained); }
  void push(int32_t id, bool trained) {
    out.ids.push_back(id);
    out.mask.push_back(trained ? 1 : 0);
  }
  void text(const std::string& s, bool trained) {
    for (int32_t id : tok.encode(s)) push(id, trained);
  }
  // Trained text except the tokens that touch an untrained byte span.
  void text_with_spans(const std::string& s, const std::vector<std::pair<size_t, size_t>>& spans) {
    if (spans.empty()) return text(s, true);
    for (const auto& p : tok.encode_with_offsets(s)) {
      bool trained = true;
      for (const auto& [b, e] : spans) trained &= !(p.begin < e && b < p.end);
      push(p.id, trained);
    }
  }
};

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "\n\n" + b;
}

// mistral-common's normalization: consecutive messages of one role merge
// (tool messages stay apart), system messages leave the list.
std::vector<Message> merge_runs(const std::vector<Message>& messages) {
  std::vector<Message> out;
  bool open = false;  // out.back() may still absorb a message of its role
  for (const auto& m : messages) {
    if (m.role == Role::System) {
      open = false;
      continue;
    }
    if (open && out.back().role == m.role && m.role != Role::Tool) {
      auto& last = out.back();
      const size_t shift =
          (last.content.empty() || m.content.empty()) ? last.content.size() : last.content.size() + 2;
      for (const auto& [b, e] : m.untrained_spans) last.untrained_spans.emplace_back(b + shift, e + shift);
      last.content = join(last.content, m.content);
      last.tool_calls.insert(last.tool_calls.end(), m.tool_calls.begin(), m.tool_calls.end());
    } else {
      out.push_back(m);
    }
    open = true;
  }
  if (out.empty() || out.front().role != Role::User) out.insert(out.begin(), Message{});
  return out;
}

OrderedJson normalized_tools(const OrderedJson& tools) {
  OrderedJson out = OrderedJson::array();
  for (const auto& t : tools) {
    const auto& f = t.at("function");
    OrderedJson fn;
    fn["name"] = f.at("name");
    fn["description"] = f.contains("description") ? f.at("description") : OrderedJson("");
    fn["parameters"] = f.contains("parameters") ? f.at("parameters") : OrderedJson::object();
    out.push_back(OrderedJson{{"type", "function"}, {"function", fn}});
  }
  return out;
}

std::string rstrip_spaces(const std::string& s) {
  const auto e = s.find_last_not_of(' ');
  return e == std::string::npos ? std::string() : s.substr(0, e + 1);
}

// `tools`: the [AVAILABLE_TOOLS] body ("" without tools).
Rendered render_v3(const Conversation& conv, const Tokenizer& tok, const std::string& tools) {
  Builder b{tok, {}};
  b.push(tok.bos_id(), false);
  if (conv.raw_text) {
    for (const auto& m : conv.messages) b.text(m.content, true);
    b.push(tok.eos_id(), true);
    return std::move(b.out);
  }
  std::string system;
  for (const auto& m : conv.messages) {
    if (m.role == Role::System && !m.content.empty()) system = join(system, m.content);
  }
  const auto messages = merge_runs(conv.messages);
  size_t last_user = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == Role::User) last_user = i;
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    switch (m.role) {
      case Role::User:
        if (i == last_user && !conv.tools.empty()) {
          b.control("[AVAILABLE_TOOLS]", false);
          b.text(tools, false);
          b.control("[/AVAILABLE_TOOLS]", false);
        }
        b.control("[INST]", false);
        b.text(i == last_user && !system.empty() ? system + "\n\n" + m.content : m.content, false);
        b.control("[/INST]", false);
        break;
      case Role::Assistant:
        if (!m.tool_calls.empty()) {
          OrderedJson calls = OrderedJson::array();
          for (const auto& c : m.tool_calls) {
            calls.push_back(OrderedJson{{"name", c.name}, {"arguments", c.arguments}, {"id", c.id}});
          }
          b.control("[TOOL_CALLS]", true);
          b.text(python_json_dumps(calls), true);
        } else {
          b.text_with_spans(rstrip_spaces(m.content), m.untrained_spans);
        }
        b.push(tok.eos_id(), true);
        break;
      case Role::Tool:
        b.control("[TOOL_RESULTS]", false);
        b.text(python_json_dumps(OrderedJson{{"content", m.tool_result}, {"call_id", m.tool_call_id}}),
               false);
        b.control("[/TOOL_RESULTS]", false);
        break;
      case Role::System: break;
    }
  }
  return std::move(b.out);
}

}  // namespace

Rendered MistralV3Format::render(const Conversation& conversation) const {
  return render_v3(conversation, tokenizer_,
                   conversation.tools.empty() ? std::string() : tools_text(conversation.tools));
}

std::vector<int32_t> MistralV3Format::generation_prompt(const Conversation& conversation) const {
  if (!conversation.raw_text && !conversation.messages.empty() &&
      conversation.messages.back().role == Role::Assistant) {
    throw Error(ErrorKind::Usage, "chat prompt", "the conversation already ends with an assistant turn",
                "end the prompt conversation with a user or tool message");
  }
  Rendered r = render(conversation);
  if (conversation.raw_text) r.ids.pop_back();  // no EOS: the text continues
  return std::move(r.ids);
}

TemplateMatch MistralV3Format::match_template(const std::string& chat_template, const Tokenizer& tokenizer) {
  if (chat_template.find(kTemplateMarker) != std::string::npos) return TemplateMatch::TemplateOnly;
  if (chat_template.empty() && tokenizer.kind() == "sentencepiece" && tokenizer.control_id("[INST]") &&
      tokenizer.control_id("[/INST]"))
    return TemplateMatch::VocabularyOnly;
  return TemplateMatch::None;
}

// mistral-common's [AVAILABLE_TOOLS] body: each tool normalised to {"type", "function": {"name",
// "description", "parameters"}}, written as json.dumps does.
std::string MistralV3Format::tools_text(const OrderedJson& tools) const {
  return python_json_dumps(normalized_tools(tools));
}

// Everything after [TOOL_CALLS] up to a control token that ends the turn, if one was kept.
std::optional<ParsedCalls> MistralV3Format::parse_native_calls(std::string_view text) const {
  const size_t at = text.find(kCalls);
  if (at == std::string_view::npos) return std::nullopt;
  ParsedCalls p{true, false, {}};
  std::string_view body = text.substr(at + kCalls.size());
  if (const auto end = body.find("</s>"); end != std::string_view::npos) body = body.substr(0, end);
  p.valid = read_json_calls(body, p.calls);
  return p;
}

OllamaTemplate MistralV3Format::ollama_template() const {
  OllamaTemplate t{kOllamaTemplate, stop_pieces()};
  t.stops.emplace_back("[INST]");
  return t;
}

}  // namespace mlxft
