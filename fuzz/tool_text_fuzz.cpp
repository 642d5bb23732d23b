// libFuzzer target: any bytes as an assistant message with the seed's
// plain-text tool calls. Checks that the parser and both conversions never
// throw and that every untrained span lies inside its message.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mlxft/data/dataset.h"
#include "mlxft/data/tool_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& b : mlxft::parse_tool_text(text)) {
    if (b.begin > b.end || b.end > text.size() ||
        (b.has_result && (b.result_begin > b.result_end || b.result_end > text.size()))) {
      std::abort();
    }
  }
  for (auto mode : {mlxft::ToolFormat::Native, mlxft::ToolFormat::Text}) {
    const auto converted = mlxft::convert_tool_text(text, mode, size);
    for (const auto& m : converted.messages) {
      for (const auto& [b, e] : m.untrained_spans) {
        if (b > e || e > m.content.size()) std::abort();
      }
      for (const auto& c : m.tool_calls) {
        if (c.id.size() != 9 || !c.arguments.is_object()) std::abort();
      }
    }
  }
  return 0;
}
