// Tool calls in a model's output compared with a reference. The calls themselves are read by the
// chat format (chat/chat_format.h ChatFormat::parse_tool_calls(), types in chat/tool_call.h).
//
// Contract:
// - text_keeping_controls(tokenizer, ids) decodes ids with each control token written as its
//   piece ("[TOOL_CALLS]", "<|im_end|>"), since decode() drops them and [TOOL_CALLS] marks a call:
//   the text the formats' parsers read.
// - same_first_name(): both have a first call and its names are equal.
// - same_calls(): same count, and in order equal names and JSON-equal arguments (key order does
//   not matter, values are compared as parsed JSON).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlxft/chat/tool_call.h"
#include "mlxft/tokenizer/tokenizer.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

std::string text_keeping_controls(const Tokenizer& tokenizer, const std::vector<int32_t>& ids);

bool same_first_name(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got);
bool same_calls(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got);

// The calls as a JSON array of {"name", "arguments"} (for per-example records).
OrderedJson calls_json(const std::vector<ParsedCall>& calls);

}  // namespace mlxft
