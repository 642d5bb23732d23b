// UTF-8 text checks.
//
// Contract: is_valid_utf8(text) is true exactly when text is well-formed UTF-8: no overlong
// forms, no surrogates (U+D800..U+DFFF), no code points past U+10FFFF, no truncated sequences.
#pragma once

#include <string_view>

namespace mlxft {

bool is_valid_utf8(std::string_view text);

}  // namespace mlxft
