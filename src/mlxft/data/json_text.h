// JSON written the way Python's json.dumps(obj, ensure_ascii=False) writes it,
// which is what mistral-common tokenizes: ", " and ": " separators, keys in
// their original order, non-ASCII characters kept raw, control characters
// escaped (\n, \t, \u001b, ...), "/" not escaped, floats in shortest
// round-trip form.
#pragma once

#include <string>

#include "mlxft/data/conversation.h"

namespace mlxft {

std::string python_json_dumps(const OrderedJson& value);

}  // namespace mlxft
