// One JSONL record -> a validated Conversation.
//
// Contract: detect_format() names the shape of a parsed record (or nothing).
// parse_record() validates a record of the given format and builds its
// Conversation; any problem throws RecordError with a reason kind (an enum whose
// to_string() the report counts) and a message naming the message index and what is
// wrong. The seed's plain-text tool calls are converted by convert_tool_text()
// with ids derived from id_seed. Never throws anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "mlxft/chat/conversation.h"
#include "mlxft/data/options.h"
#include "mlxft/util/utf8.h"

namespace mlxft {

enum class RecordFormat { Conversations, Messages, Text, PromptCompletion };

const char* to_string(RecordFormat format);
// "conversations" (also "claude") | "messages" | "text" | "prompt_completion"; nothing for other names.
std::optional<RecordFormat> parse_format_name(std::string_view name);
std::optional<RecordFormat> detect_format(const OrderedJson& record);

enum class RecordErrorKind {
  NotAnObject,
  UnknownShape,
  UnknownRole,
  RoleOrder,
  EmptyContent,
  NonStringContent,
  ContentAndToolCalls,
  BadTools,
  BadArguments,
  BadLabel,
  MessageTooLarge,
  ToolResultWithoutCall,
  UnansweredToolCall,
  UnknownToolCallId,
  NothingToTrain,
  InvalidJson,
  InvalidUtf8,
};

// The reason kind as the report counts it ("role order", "invalid JSON", ...).
const char* to_string(RecordErrorKind kind);

class RecordError : public std::runtime_error {
 public:
  RecordError(RecordErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  RecordErrorKind kind_id() const { return kind_; }
  std::string kind() const { return to_string(kind_); }

 private:
  RecordErrorKind kind_;
};

struct ParsedRecord {
  Conversation conversation;
  bool has_context = false;
  int tool_calls = 0;  // calls written in the record (seed text blocks or tool_calls entries)
};

ParsedRecord parse_record(const OrderedJson& record, RecordFormat format, const DataOptions& options,
                          uint64_t id_seed);

}  // namespace mlxft
