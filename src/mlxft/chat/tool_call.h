// Tool calls read back from a model's output: the parsed-call types, and the parts every chat
// format's parser shares (chat_format.h ChatFormat::parse_tool_calls()).
//
// Contract:
// - ParsedCalls: made_call = the output holds a call marker; valid = made_call and every call parsed
//   as JSON with a string name and an object arguments (arguments given as a JSON string holding an
//   object are accepted, as OpenAI writes them). calls holds the calls that parsed (all of them
//   when valid).
// - read_json_calls(text, calls) appends the call(s) a JSON text holds (one object or an array of
//   them) and is true when the text is JSON, not empty, and every item is a call.
// - parse_plain_tool_calls(text): the seed's plain-text blocks "tool_call: NAME\narguments: {...}"
//   (tool_text.h) as calls, the fallback of every format when its own marker is absent. A
//   "tool_call:" line that is not a readable block still counts as an attempted call.
// - Neither throws: any bytes are a possible model output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

bool read_json_calls(std::string_view text, std::vector<ParsedCall>& calls);

ParsedCalls parse_plain_tool_calls(std::string_view text);

// Calls in tagged blocks (ChatML's and Gemma's "<tool_call>{...}</tool_call>"): each block from
// text[at] (an `open` tag) on holds one {"name", "arguments"} object; an unterminated last block runs
// to the end of the text. made_call is true; valid when every block held exactly one call.
ParsedCalls parse_tagged_calls(std::string_view text, size_t at, std::string_view open, std::string_view close);

}  // namespace mlxft
