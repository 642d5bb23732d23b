// Seed tool-call text to messages (see tool_text.h).
#include "mlxft/data/tool_text.h"

#include "mlxft/data/options.h"
#include "mlxft/util/prng.h"

namespace mlxft {

namespace {

// True when s holds nothing but whitespace.
bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The assistant text s[from..] as one message, Result spans of the blocks in it untrained.
Message text_message(const std::string& s, size_t from, const std::vector<ToolTextBlock>& blocks) {
  while (from < s.size() && (s[from] == '\n' || s[from] == '\r')) ++from;
  Message m;
  m.role = Role::Assistant;
  m.content = s.substr(std::min(from, s.size()));
  for (const auto& b : blocks) {
    if (b.has_result && b.result_begin >= from)
      m.untrained_spans.emplace_back(b.result_begin - from, b.result_end - from);
  }
  return m;
}

}  // namespace

OrderedJson json_or_string(std::string_view text) {
  auto parsed = OrderedJson::parse(text, nullptr, false);
  if (parsed.is_discarded()) return OrderedJson(std::string(text));
  return parsed;
}

std::string make_tool_call_id(uint64_t seed) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  SplitMix64 g(seed);
  std::string id(9, 'a');
  for (auto& c : id) c = kAlphabet[g.below(62)];
  return id;
}

ConvertedAssistant convert_tool_text(const std::string& content, ToolFormat format, uint64_t id_seed) {
  ConvertedAssistant out;
  const auto blocks = parse_tool_text(content);
  for (const auto& b : blocks) out.malformed_calls += b.arguments ? 0 : 1;
  if (format == ToolFormat::Text || blocks.empty()) {
    out.text_calls = static_cast<int>(blocks.size());
    out.messages.push_back(text_message(content, 0, blocks));
    return out;
  }
  size_t pos = 0;  // start of what is not yet converted
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    const bool ends_message = is_blank(std::string_view(content).substr(b.end));
    std::string why;
    if (!b.arguments) {
      why = "arguments are not a JSON object";
    } else if (!b.has_result && !ends_message) {
      why = "the call has no Result before the text that follows";
    }
    if (!why.empty()) {
      out.warnings.push_back("tool call " + std::to_string(i + 1) + " (" + b.name + "): " + why +
                             "; the rest of the message stays text, untrained");
      out.text_calls += static_cast<int>(blocks.size() - i);
      // Context only: trained, it would teach the model to write calls as text beside the native form.
      Message rest = text_message(content, pos, {});
      rest.untrained_spans = {{0, rest.content.size()}};
      out.messages.push_back(std::move(rest));
      return out;
    }
    if (!is_blank(std::string_view(content).substr(pos, b.begin - pos))) ++out.dropped_prose;
    const std::string id = make_tool_call_id(mix_seed(id_seed, i));
    Message call;
    call.role = Role::Assistant;
    call.tool_calls.push_back(ToolCall{id, b.name, *b.arguments});
    out.messages.push_back(std::move(call));
    if (b.has_result) {
      Message result;
      result.role = Role::Tool;
      result.tool_call_id = id;
      result.content = b.result_text;
      result.tool_result = json_or_string(b.result_text);
      out.messages.push_back(std::move(result));
    }
    ++out.native_calls;
    pos = b.end;
  }
  if (!is_blank(std::string_view(content).substr(pos)))
    out.messages.push_back(text_message(content, pos, {}));
  return out;
}

}  // namespace mlxft
