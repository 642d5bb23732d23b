// The seed dataset's plain-text tool calls inside assistant messages:
//
//   [prose\n\n]tool_call: NAME\narguments: {JSON}\n\nResult: {JSON}\n\n[tool_call: ...]reply
//
// Contract: the blocks are found by chat/tool_text.h parse_tool_text(). convert_tool_text() turns one
// assistant message into the messages to render:
//  - ToolFormat::Text: the message stays text, each "Result: ..." span
//    untrained;
//  - ToolFormat::Native: each block whose arguments are a JSON object and
//    that has a Result (or ends the message) becomes an assistant tool-call
//    turn plus a tool-result message (content parsed as JSON when it is JSON),
//    with a 9-character id derived from id_seed; prose before a converted call
//    is left out (counted). From the first block that cannot be converted on,
//    the rest of the message stays text, all of it untrained (context for what
//    follows; trained, it would teach a second call syntax), and a warning
//    says why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/conversation.h"
#include "mlxft/chat/tool_text.h"

namespace mlxft {

enum class ToolFormat;

struct ConvertedAssistant {
  std::vector<Message> messages;  // assistant / tool messages in order
  int native_calls = 0, text_calls = 0, dropped_prose = 0;
  int malformed_calls = 0;  // blocks whose arguments are not a JSON object
  std::vector<std::string> warnings;
};

ConvertedAssistant convert_tool_text(const std::string& content, ToolFormat format, uint64_t id_seed);

// A deterministic 9-character [a-zA-Z0-9] tool call id.
std::string make_tool_call_id(uint64_t seed);

// Parses text as JSON the way mistral-common does for tool results: the value
// if it is valid JSON, else the text as a JSON string.
OrderedJson json_or_string(std::string_view text);

}  // namespace mlxft
