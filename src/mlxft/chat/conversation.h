// The conversation model every input format is read into, and every chat format renders.
//
// Contract:
// - A Conversation is a validated list of messages in the order they are rendered.
// - Assistant messages carry either text (with optional byte spans that must not be trained,
//   e.g. the reference dataset's "Result: {...}" blocks kept as text) or tool calls, never both.
// - Tool messages answer a call by its 9-character id.
// - JSON payloads (tool definitions, call arguments, tool result content) are kept as parsed
//   ordered JSON so a chat format writes them exactly as Python's json.dumps would.
// - A raw-text conversation (mlx-lm's {"text"} format) is rendered as BOS text EOS, every token
//   after BOS trained.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mlxft/util/json_text.h"

namespace mlxft {

enum class Role { System, User, Assistant, Tool };

struct ToolCall {
  std::string id;  // 9 characters of [a-zA-Z0-9]
  std::string name;
  OrderedJson arguments;  // always a JSON object
};

struct Message {
  Role role = Role::User;
  std::string content;
  // Assistant text only: byte ranges [begin, end) of content that are not trained.
  std::vector<std::pair<size_t, size_t>> untrained_spans;
  std::vector<ToolCall> tool_calls;  // assistant only
  std::string tool_call_id;          // tool only
  OrderedJson tool_result;           // tool only: parsed JSON if content is JSON, else the string
};

struct Conversation {
  std::vector<Message> messages;
  OrderedJson tools = OrderedJson::array();  // [{"type": "function", "function": {...}}]
  bool tools_from_catalogue = false;         // tools came from data.tools, not from the record
  std::optional<bool> label;
  bool raw_text = false;  // {"text"} records: content of the single message is the whole text
  // What plain-text tool calls (the reference dataset's "Tool call:" blocks) became (counted in the report).
  int native_calls = 0;               // converted to [TOOL_CALLS] turns
  int text_calls = 0;                 // kept as text (text mode, or could not be converted)
  int dropped_prose = 0;              // prose segments before a native call that were left out
  int malformed_calls = 0;            // blocks whose arguments are not a JSON object
  std::vector<std::string> warnings;  // per-record notes ("block 2: arguments are not valid JSON")
};

}  // namespace mlxft
