// The plain-text tool-call blocks (see tool_text.h).
#include "mlxft/chat/tool_text.h"

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

}  // namespace mlxft
