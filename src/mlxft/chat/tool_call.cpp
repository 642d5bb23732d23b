// The shared parts of the tool-call parsers (see tool_call.h).
#include "mlxft/chat/tool_call.h"

#include "mlxft/chat/tool_text.h"

namespace mlxft {

namespace {

// One {"name", "arguments"} object as a call; false when it is not one.
bool read_call(const OrderedJson& j, ParsedCall& out) {
  if (!j.is_object()) return false;
  const auto name = j.find("name");
  const auto args = j.find("arguments");
  if (name == j.end() || !name->is_string() || args == j.end()) return false;
  OrderedJson value = *args;
  if (value.is_string()) value = OrderedJson::parse(value.get<std::string>(), nullptr, false);
  if (value.is_discarded() || !value.is_object()) return false;
  out.name = name->get<std::string>();
  out.arguments = std::move(value);
  return true;
}

ParsedCalls read_plain(std::string_view text) {
  ParsedCalls p;
  const auto blocks = parse_tool_text(text);
  for (const auto& b : blocks)
    if (b.arguments) p.calls.push_back({b.name, *b.arguments});
  // A "tool_call:" line that parse_tool_text could not read as a block is still an attempted call.
  p.made_call = !blocks.empty() || text.starts_with("tool_call:") ||
                text.find("\ntool_call:") != std::string_view::npos;
  p.valid = !blocks.empty() && p.calls.size() == blocks.size();
  return p;
}

}  // namespace

bool read_json_calls(std::string_view text, std::vector<ParsedCall>& calls) {
  const OrderedJson j = OrderedJson::parse(text, nullptr, false);
  if (j.is_discarded()) return false;
  bool ok = true;
  for (const auto& item : j.is_array() ? j : OrderedJson::array({j})) {
    ParsedCall c;
    if (read_call(item, c))
      calls.push_back(std::move(c));
    else
      ok = false;
  }
  return ok && !j.empty();
}

ParsedCalls parse_plain_tool_calls(std::string_view text) {
  try {
    return read_plain(text);
  } catch (const std::exception&) {
    return ParsedCalls{true, false, {}};  // defensive: model output never ends an evaluation
  }
}

ParsedCalls parse_tagged_calls(std::string_view text, size_t at, std::string_view open, std::string_view close) {
  ParsedCalls p{true, true, {}};
  while (at != std::string_view::npos) {
    const size_t body = at + open.size();
    const size_t end_tag = text.find(close, body);
    const size_t end = end_tag == std::string_view::npos ? text.size() : end_tag;
    std::vector<ParsedCall> one;
    if (!read_json_calls(text.substr(body, end - body), one) || one.size() != 1) p.valid = false;
    for (auto& c : one) p.calls.push_back(std::move(c));
    if (end_tag == std::string_view::npos) break;
    at = text.find(open, end_tag + close.size());
  }
  return p;
}

}  // namespace mlxft
