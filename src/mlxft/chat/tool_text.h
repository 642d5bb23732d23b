// The seed dataset's plain-text tool calls inside assistant messages, as a syntax:
//
//   [prose\n\n]tool_call: NAME\narguments: {JSON}\n\nResult: {JSON}\n\n[tool_call: ...]reply
//
// Contract: parse_tool_text() finds every block that starts with a line "tool_call: NAME"
// followed by a line "arguments: ..."; the arguments run to the first blank line (or the end), an
// optional "Result: ..." part likewise. It never throws and accepts any bytes. Every chat format
// reads these blocks as calls when its own call marker is absent (chat_format.h), and
// data/tool_text.h converts them into the messages to render.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/util/json_text.h"

namespace mlxft {

struct ToolTextBlock {
  size_t begin = 0, end = 0;  // the whole block, "tool_call:" to the end of the result (or arguments)
  std::string name;
  std::string arguments_text;
  std::optional<OrderedJson> arguments;  // set when arguments_text is a JSON object
  bool has_result = false;
  size_t result_begin = 0, result_end = 0;  // "Result: ..." span (when has_result)
  std::string result_text;                  // after "Result: "
};

std::vector<ToolTextBlock> parse_tool_text(std::string_view content);

}  // namespace mlxft
