#include "mlxft/data/tool_text.h"

#include "mlxft/data/options.h"
#include "mlxft/util/prng.h"

namespace mlxft {

namespace {

constexpr std::string_view kCall = "tool_call:";
constexpr std::string_view kArgs = "arguments:";
constexpr std::string_view kResult = "Result:";
constexpr std::string_view kBlank = "\n\n";

bool at_line_start(std::string_view s, size_t pos) {
  return pos == 0 || s[pos - 1] == '\n';
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// End of a part that runs to the next blank line (or the end of the text).
size_t part_end(std::string_view s, size_t from) {
  const auto e = s.find(kBlank, from);
  return e == std::string_view::npos ? s.size() : e;
}

// Tries to read one block at pos ("tool_call:" at a line start).
std::optional<ToolTextBlock> read_block(std::string_view s, size_t pos) {
  ToolTextBlock b;
  b.begin = pos;
  const auto name_end = s.find('\n', pos);
  if (name_end == std::string_view::npos) return std::nullopt;
  b.name = std::string(trim(s.substr(pos + kCall.size(), name_end - pos - kCall.size())));
  const size_t args_line = name_end + 1;
  if (b.name.empty() || s.substr(args_line, kArgs.size()) != kArgs) return std::nullopt;
  const size_t args_begin = args_line + kArgs.size();
  const size_t args_end = part_end(s, args_begin);
  b.arguments_text = std::string(trim(s.substr(args_begin, args_end - args_begin)));
  b.end = args_end;
  auto parsed = OrderedJson::parse(b.arguments_text, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) b.arguments = std::move(parsed);
  if (args_end < s.size() && s.substr(args_end + kBlank.size(), kResult.size()) == kResult) {
    b.has_result = true;
    b.result_begin = args_end + kBlank.size();
    const size_t text_begin = b.result_begin + kResult.size();
    b.result_end = part_end(s, text_begin);
    b.result_text = std::string(trim(s.substr(text_begin, b.result_end - text_begin)));
    b.end = b.result_end;
  }
  return b;
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

std::vector<ToolTextBlock> parse_tool_text(std::string_view s) {
  std::vector<ToolTextBlock> blocks;
  size_t pos = 0;
  while (pos < s.size()) {
    const auto found = s.find(kCall, pos);
    if (found == std::string_view::npos) break;
    if (!at_line_start(s, found)) {
      pos = found + kCall.size();
      continue;
    }
    auto block = read_block(s, found);
    if (!block) {
      pos = found + kCall.size();
      continue;
    }
    pos = std::max(block->end, found + kCall.size());
    blocks.push_back(std::move(*block));
  }
  return blocks;
}

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
    const bool ends_message = trim(std::string_view(content).substr(b.end)).empty();
    std::string why;
    if (!b.arguments) {
      why = "arguments are not a JSON object";
    } else if (!b.has_result && !ends_message) {
      why = "the call has no Result before the text that follows";
    }
    if (!why.empty()) {
      out.warnings.push_back("tool call " + std::to_string(i + 1) + " (" + b.name + "): " + why +
                             "; the rest of the message stays text");
      out.text_calls += static_cast<int>(blocks.size() - i);
      out.messages.push_back(text_message(content, pos, blocks));
      return out;
    }
    if (!trim(std::string_view(content).substr(pos, b.begin - pos)).empty()) ++out.dropped_prose;
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
  if (!trim(std::string_view(content).substr(pos)).empty())
    out.messages.push_back(text_message(content, pos, {}));
  return out;
}

}  // namespace mlxft
