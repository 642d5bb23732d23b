// Hermes-style tool calling and masked-id building, shared by the formats that use them (ChatML,
// Gemma, Phi-3): one owner for the tool catalogue text, the call and response blocks and their parser.
//
// Contract:
// - hermes_tools_text(tools): "# Tools ..." + one JSON per tool (Python json.dumps spacing) inside
//   <tools></tools> + the <tool_call> instructions, as Hermes / Qwen templates write them (no
//   leading separator: each format adds its own).
// - hermes_call_text(call): <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>.
// - hermes_tool_responses(ms, i, j): "\n<tool_response>\n{content}\n</tool_response>" per message of
//   [i, j), concatenated (starts with "\n").
// - parse_hermes_calls(text): the <tool_call> blocks of a generated text; nullopt without one.
// - MaskedIds: ids with a parallel loss mask; segment() encodes one string and trains its tokens
//   after byte `header` except those overlapping `spans` (byte ranges within the string).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mlxft/chat/chat_format.h"

namespace mlxft {

std::string hermes_tools_text(const OrderedJson& tools);
std::string hermes_call_text(const ToolCall& call);
std::string hermes_tool_responses(const std::vector<Message>& ms, size_t i, size_t j);
std::optional<ParsedCalls> parse_hermes_calls(std::string_view text);

using ByteSpans = std::vector<std::pair<size_t, size_t>>;

struct MaskedIds {
  const Tokenizer& tok;
  Rendered out;

  void push(int32_t id, bool trained);
  void text(const std::string& s, bool trained);
  void segment(const std::string& s, size_t header, const ByteSpans& spans);
  // A reply turn of the formats that write calls as Hermes blocks after the text (Gemma, Phi-3):
  // `open`, then header + content (+ "\n" between parts) + each call's block, trained after the header
  // except m.untrained_spans, then `close` (trained) and an untrained "\n".
  void hermes_reply(int32_t open, const std::string& header, const Message& m, int32_t close);
};

}  // namespace mlxft
