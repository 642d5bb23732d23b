// Tool catalogues: the list of tools a model is offered in its prompt, in the OpenAI function
// format the chat formats render ([{"type": "function", "function": {"name", "description",
// "parameters"}}]).
//
// Contract:
// - infer_tool_catalogue(conversations) describes every tool the conversations call (native tool
//   calls, or the seed's plain-text "tool_call:" blocks of assistant text), one entry per name in
//   order of first appearance, description "". Its parameters are a JSON schema inferred from
//   every call's arguments: {"type": "object", "properties": {key: schema}, "required": [keys
//   present in every call]} with keys in order of first appearance; a value's schema is its type
//   ("string", "integer", "number" (any non-integer number, or integers mixed with them),
//   "boolean", "null"), an object's is built the same way from every object seen at that place
//   (nested properties and required), an array's is {"type": "array", "items": schema of every
//   element seen} ("items" left out when every array was empty). A place that held values of
//   several types gets "type": [the types in order of first appearance].
// - compact_tool_catalogue(catalogue): the same tools in fewer prompt tokens: empty descriptions
//   left out, and below the top-level arguments only each value's "type" kept (a nested object's
//   properties, an array's items and their "required" go), so {"context": {"type": "object"}}.
// - load_tool_catalogue(path) reads a JSON file holding such a list; a missing file, bad JSON or a
//   bad entry is a Config error naming the file (and the entry) and what to do.
// - called_tool_names(conversation): the names its assistant turns call, first appearance first.
// - tools_for_prompt(catalogue, conversation, per_prompt, seed): what one conversation is shown:
//   per_prompt <= 0 or >= the catalogue's size: the whole catalogue; otherwise every called tool
//   that the catalogue has plus others drawn at random (by seed) until per_prompt tools are
//   offered (more when the conversation calls more), in catalogue order. The same arguments
//   always give the same list.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mlxft/chat/conversation.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

// The file beside exported adapters that holds the catalogue a run trained with.
inline constexpr const char* kAdapterCatalogueFile = "tools.json";
// <adapter_dir>/tools.json when it exists, else "" (adapter_dir "" : "").
std::filesystem::path adapter_catalogue(const std::filesystem::path& adapter_dir);

OrderedJson infer_tool_catalogue(const std::vector<Conversation>& conversations);
OrderedJson compact_tool_catalogue(const OrderedJson& catalogue);
OrderedJson load_tool_catalogue(const std::filesystem::path& path);
std::vector<std::string> called_tool_names(const Conversation& conversation);
OrderedJson tools_for_prompt(const OrderedJson& catalogue, const Conversation& conversation, int per_prompt,
                             uint64_t seed);

}  // namespace mlxft
