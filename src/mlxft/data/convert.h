// Writing a validated Conversation back as a record of another shape (`mlxft data convert`).
//
// Contract: conversation_to_record() gives one JSON record that data/records.h reads back to the
// same conversation (the same messages, tool calls with the same ids and arguments, results
// linked to the same calls, the record's own tools, the label), so it renders to the same ids and
// loss mask:
// - "messages": OpenAI / TRL messages, tool_calls {"id", "type": "function", "function": {"name",
//   "arguments" (an object)}}, tool messages {"tool_call_id", "content"}, "tools".
// - "sharegpt": {"conversations": [{"from", "value"}]} with human, gpt, system, function_call
//   ({"name", "arguments"} as JSON text, a list for parallel calls) and observation; "tools" a list.
//   Ids are not written: the reader derives them, and they are the ids the record had only when
//   those came from the same derivation (the seed's text, ids that were not Mistral's).
// - "conversations": the seed's shape, role/content messages whose assistant text holds the calls
//   as "tool_call: NAME\narguments: {JSON}\n\nResult: ...". It cannot express parallel calls, text
//   before a call in one turn, results out of call order or holding a blank line: those records
//   are a RecordError saying why (use messages or sharegpt for them). Ids as for sharegpt.
// A raw-text record ({"text"}) has no messages to convert: RecordError. Tools that came from a
// catalogue (data.tools) are not written.
#pragma once

#include <string>
#include <vector>

#include "mlxft/chat/conversation.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

// "messages", "sharegpt", "conversations".
const std::vector<std::string>& convert_target_names();

OrderedJson conversation_to_record(const Conversation& conversation, const std::string& target);

}  // namespace mlxft
