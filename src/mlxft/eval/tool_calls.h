// Tool calls in a model's output, parsed in its chat format, and compared with a reference.
//
// Contract:
// - text_keeping_controls(tokenizer, ids) decodes ids with each control token written as its
//   piece ("[TOOL_CALLS]", "<|im_end|>"), since decode() drops them and [TOOL_CALLS] marks a call.
// - parse_tool_calls(text, format) finds the calls of one model output:
//     "mistral-v3": "[TOOL_CALLS]" then a JSON array (or one object) of {"name", "arguments", ...};
//     "chatml":     each "<tool_call>{...}</tool_call>" block holds one {"name", "arguments"}
//                   (an unterminated last block runs to the end of the text);
//     any format:   when the format's marker is absent, the seed's plain-text blocks
//                   "tool_call: NAME\narguments: {...}" (data/tool_text.h).
//   made_call: the output holds a call marker. valid: made_call and every call parsed as JSON with
//   a string name and an object arguments (arguments given as a JSON string holding an object are
//   accepted, as OpenAI writes them). calls holds the calls that parsed (all of them when valid).
//   Never throws: any bytes are a possible model output.
// - same_first_name(): both have a first call and its names are equal.
// - same_calls(): same count, and in order equal names and JSON-equal arguments (key order does
//   not matter, values are compared as parsed JSON).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/tokenizer/tokenizer.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

struct ParsedCall {
  std::string name;
  OrderedJson arguments = OrderedJson::object();
};

struct ParsedCalls {
  bool made_call = false;
  bool valid = false;
  std::vector<ParsedCall> calls;
};

std::string text_keeping_controls(const Tokenizer& tokenizer, const std::vector<int32_t>& ids);

ParsedCalls parse_tool_calls(std::string_view text, std::string_view format);

bool same_first_name(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got);
bool same_calls(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got);

// The calls as a JSON array of {"name", "arguments"} (for per-example records).
OrderedJson calls_json(const std::vector<ParsedCall>& calls);

}  // namespace mlxft
