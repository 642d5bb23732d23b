// Hermes-style tool text and masked ids (see hermes.h).
#include "mlxft/chat/hermes.h"

#include "mlxft/util/json_text.h"

namespace mlxft {
namespace {

constexpr const char* kToolsIntro =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
constexpr const char* kToolsOutro =
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call>";
constexpr std::string_view kCallOpen = "<tool_call>";
constexpr std::string_view kCallClose = "</tool_call>";

}  // namespace

std::string hermes_tools_text(const OrderedJson& tools) {
  std::string s = kToolsIntro;
  for (const auto& t : tools) s += "\n" + python_json_dumps(t);
  return s + kToolsOutro;
}

std::string hermes_call_text(const ToolCall& call) {
  return "<tool_call>\n" + python_json_dumps(OrderedJson{{"name", call.name}, {"arguments", call.arguments}}) +
         "\n</tool_call>";
}

std::string hermes_tool_responses(const std::vector<Message>& ms, size_t i, size_t j) {
  std::string s;
  for (; i < j; ++i) s += "\n<tool_response>\n" + ms[i].content + "\n</tool_response>";
  return s;
}

std::optional<ParsedCalls> parse_hermes_calls(std::string_view text) {
  const size_t at = text.find(kCallOpen);
  if (at == std::string_view::npos) return std::nullopt;
  return parse_tagged_calls(text, at, kCallOpen, kCallClose);
}

void MaskedIds::push(int32_t id, bool trained) {
  out.ids.push_back(id);
  out.mask.push_back(trained ? 1 : 0);
}

void MaskedIds::text(const std::string& s, bool trained) {
  for (int32_t id : tok.encode(s)) push(id, trained);
}

void MaskedIds::segment(const std::string& s, size_t header, const ByteSpans& spans) {
  for (const auto& p : tok.encode_with_offsets(s)) {
    bool trained = p.end > header;
    for (const auto& [b, e] : spans) trained &= !(p.begin < e && b < p.end);
    push(p.id, trained);
  }
}

void MaskedIds::hermes_reply(int32_t open, const std::string& header, const Message& m, int32_t close) {
  push(open, false);
  std::string s = header + m.content;
  ByteSpans spans;
  for (const auto& [from, to] : m.untrained_spans) spans.emplace_back(from + header.size(), to + header.size());
  for (const auto& c : m.tool_calls) {
    s += (s.size() == header.size() ? "" : "\n");
    s += hermes_call_text(c);
  }
  segment(s, header.size(), spans);
  push(close, true);
  text("\n", false);
}

}  // namespace mlxft
