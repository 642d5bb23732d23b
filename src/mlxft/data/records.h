// One JSONL record -> a validated Conversation.
//
// The shapes: "conversations" (the seed: role/content, plain-text tool calls in assistant text),
// "sharegpt" (the same key with from/value messages: human, gpt, system, function_call with
// {"name", "arguments"} JSON, observation or tool results; top-level "system" and "tools"),
// "messages" (OpenAI / TRL: tool_calls with arguments as an object or a JSON string, tool messages
// with tool_call_id, a "tools" list), "text" and "prompt_completion". A "tools" list may be a JSON
// string and hold bare {"name", "parameters"} functions. Tool-call ids that Mistral v3 would refuse
// (not 9 characters of [a-zA-Z0-9]) are replaced deterministically by the id the seed's plain-text
// conversion gives the same call (the same conversation gets the same ids in every shape), and
// the results stay linked to their calls (by the id as written; without one, to the oldest
// unanswered call, of the result's "name" if it has one).
//
// Contract: detect_format() names the shape of a parsed record (or nothing); conversations and
// sharegpt records may be mixed in one file (one parser reads both, message by message).
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

enum class RecordFormat { Conversations, ShareGpt, Messages, Text, PromptCompletion };

const char* to_string(RecordFormat format);
// "conversations" (also "claude") | "sharegpt" | "messages" | "text" | "prompt_completion"; nothing else.
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
