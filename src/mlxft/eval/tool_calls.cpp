#include "mlxft/eval/tool_calls.h"

#include "mlxft/data/tool_text.h"

namespace mlxft {

namespace {

constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";

// One {"name", "arguments"} object as a call; false when it is not one.
bool read_call(const OrderedJson& j, ParsedCall& out) {
  if (!j.is_object()) return false;
  const auto name = j.find("name");
  const auto args = j.find("arguments");
  if (name == j.end() || !name->is_string() || args == j.end()) return false;
  OrderedJson value = *args;
  if (value.is_string()) value = OrderedJson::parse(value.get<std::string>(), nullptr, false);
  if (value.is_discarded() || !value.is_object()) return false;
  out.name = name->get<std::string>();
  out.arguments = std::move(value);
  return true;
}

// Appends the call(s) JSON text holds (an object, or an array of them); false when any is not a call.
bool read_json_calls(std::string_view text, std::vector<ParsedCall>& calls) {
  const OrderedJson j = OrderedJson::parse(text, nullptr, false);
  if (j.is_discarded()) return false;
  bool ok = true;
  for (const auto& item : j.is_array() ? j : OrderedJson::array({j})) {
    ParsedCall c;
    if (read_call(item, c))
      calls.push_back(std::move(c));
    else
      ok = false;
  }
  return ok && !j.empty();
}

// Everything after [TOOL_CALLS] up to a control token that ends the turn, if one was kept.
ParsedCalls parse_mistral(std::string_view text, size_t at) {
  ParsedCalls p{true, false, {}};
  std::string_view body = text.substr(at + kMistralCalls.size());
  if (const auto end = body.find("</s>"); end != std::string_view::npos) body = body.substr(0, end);
  p.valid = read_json_calls(body, p.calls);
  return p;
}

ParsedCalls parse_hermes(std::string_view text, size_t at) {
  ParsedCalls p{true, true, {}};
  while (at != std::string_view::npos) {
    const size_t body = at + kHermesOpen.size();
    const size_t close = text.find(kHermesClose, body);
    const size_t end = close == std::string_view::npos ? text.size() : close;
    std::vector<ParsedCall> one;
    if (!read_json_calls(text.substr(body, end - body), one) || one.size() != 1) p.valid = false;
    for (auto& c : one) p.calls.push_back(std::move(c));
    if (close == std::string_view::npos) break;
    at = text.find(kHermesOpen, close + kHermesClose.size());
  }
  return p;
}

ParsedCalls parse_plain(std::string_view text) {
  ParsedCalls p;
  const auto blocks = parse_tool_text(text);
  for (const auto& b : blocks)
    if (b.arguments) p.calls.push_back({b.name, *b.arguments});
  // A "tool_call:" line that parse_tool_text could not read as a block is still an attempted call.
  p.made_call = !blocks.empty() || text.starts_with("tool_call:") ||
                text.find("\ntool_call:") != std::string_view::npos;
  p.valid = !blocks.empty() && p.calls.size() == blocks.size();
  return p;
}

}  // namespace

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

ParsedCalls parse_tool_calls(std::string_view text, std::string_view format) {
  try {
    if (format == "mistral-v3" || format == "mistral_v3") {
      if (const auto at = text.find(kMistralCalls); at != std::string_view::npos)
        return parse_mistral(text, at);
    } else if (format == "chatml") {
      if (const auto at = text.find(kHermesOpen); at != std::string_view::npos) return parse_hermes(text, at);
    }
    return parse_plain(text);
  } catch (const std::exception&) {
    return ParsedCalls{true, false, {}};  // defensive: model output never ends an evaluation
  }
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
