// A small, learnable tool-calling dataset that mlxft makes itself, for the
// demo and the end-to-end tests when the seed dataset is not available.
//
// Contract: synthesize_tool_conversations(n, seed) returns n JSONL lines in
// the chat-messages format (format 2: {"messages": [...], "tools": [...],
// "label": true}), each a system prompt, a user request, an assistant tool
// call with a 9-character id, the tool's JSON result and the assistant's
// reply that uses the result. The same (n, seed) gives the same lines on
// every machine (own PRNG, no std distributions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlxft {

std::vector<std::string> synthesize_tool_conversations(int count, uint64_t seed);

}  // namespace mlxft
