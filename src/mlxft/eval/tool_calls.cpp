// Comparing parsed tool calls (see tool_calls.h).
#include "mlxft/eval/tool_calls.h"

namespace mlxft {

std::string text_keeping_controls(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::string out;
  std::vector<int32_t> run;
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size() || !tokenizer.is_control(id)) {
      run.push_back(id);
      continue;
    }
    out += tokenizer.decode(run);
    run.clear();
    out += tokenizer.piece(id);
  }
  return out + tokenizer.decode(run);
}

bool same_first_name(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got) {
  return !expected.empty() && !got.empty() && expected.front().name == got.front().name;
}

bool same_calls(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got) {
  if (expected.size() != got.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i].name != got[i].name) return false;
    // nlohmann's ordered_json compares objects in key order: compare as unordered json instead.
    if (nlohmann::json::parse(expected[i].arguments.dump()) != nlohmann::json::parse(got[i].arguments.dump()))
      return false;
  }
  return true;
}

OrderedJson calls_json(const std::vector<ParsedCall>& calls) {
  OrderedJson out = OrderedJson::array();
  for (const auto& c : calls) out.push_back(OrderedJson{{"name", c.name}, {"arguments", c.arguments}});
  return out;
}

}  // namespace mlxft
