// JSON written the way Python's json.dumps(obj, ensure_ascii=False) writes it,
// which is what mistral-common tokenizes: ", " and ": " separators, keys in
// their original order, non-ASCII characters kept raw, control characters
// escaped (\n, \t, \u001b, ...), "/" not escaped, floats in shortest
// round-trip form.
//
// OrderedJson (nlohmann's ordered_json) keeps keys in the order they were read, which is what
// the chat formats write back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mlxft {

using OrderedJson = nlohmann::ordered_json;

std::string python_json_dumps(const OrderedJson& value);

}  // namespace mlxft
