#include "mlxft/eval/argument_match.h"

namespace mlxft {

namespace {

bool ignored(const std::string& key, const ArgumentScoring& scoring) {
  return scoring.ignore_keys.count(key) != 0;
}

// A pair that counts: not ignored, and stated in `said` when that is given.
bool counted(const std::string& key, const OrderedJson& value, const ArgumentScoring& scoring,
             const std::string* said) {
  return !ignored(key, scoring) && (said == nullptr || stated_in(value, *said));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `number` occurs in said as a whole number: no digit right before or after it.
bool number_stated(const std::string& number, const std::string& said) {
  for (size_t at = said.find(number); at != std::string::npos; at = said.find(number, at + 1)) {
    const size_t end = at + number.size();
    if ((at == 0 || !is_digit(said[at - 1])) && (end == said.size() || !is_digit(said[end]))) return true;
  }
  return false;
}

// The pairs of one expected call's arguments that got reproduces.
int64_t reproduced_pairs(const OrderedJson& expected, const OrderedJson& got, const ArgumentScoring& scoring,
                         const std::string* said) {
  int64_t n = 0;
  for (const auto& [key, value] : expected.items()) {
    if (!counted(key, value, scoring, said)) continue;
    const auto it = got.find(key);
    if (it != got.end() && json_values_match(value, *it)) ++n;
  }
  return n;
}

}  // namespace

bool json_values_match(const OrderedJson& expected, const OrderedJson& got) {
  if (expected.is_number() && got.is_number()) {
    if (expected.is_number_float() || got.is_number_float())
      return expected.get<double>() == got.get<double>();
    if (expected.is_number_unsigned() || got.is_number_unsigned()) {
      // an unsigned value past int64's range equals only the same unsigned value
      if (expected.is_number_unsigned() && got.is_number_unsigned())
        return expected.get<uint64_t>() == got.get<uint64_t>();
      const auto& s = expected.is_number_unsigned() ? got : expected;
      const auto& u = expected.is_number_unsigned() ? expected : got;
      return s.get<int64_t>() >= 0 && static_cast<uint64_t>(s.get<int64_t>()) == u.get<uint64_t>();
    }
    return expected.get<int64_t>() == got.get<int64_t>();
  }
  if (expected.type() != got.type()) return false;
  if (expected.is_object()) {
    if (expected.size() != got.size()) return false;
    for (const auto& [key, value] : expected.items()) {
      const auto it = got.find(key);
      if (it == got.end() || !json_values_match(value, *it)) return false;
    }
    return true;
  }
  if (expected.is_array()) {
    if (expected.size() != got.size()) return false;
    for (size_t i = 0; i < expected.size(); ++i)
      if (!json_values_match(expected[i], got[i])) return false;
    return true;
  }
  return expected == got;
}

bool arguments_match(const OrderedJson& expected, const OrderedJson& got, const ArgumentScoring& scoring) {
  if (!expected.is_object() || !got.is_object()) return false;
  for (const auto& [key, value] : expected.items()) {
    if (ignored(key, scoring)) continue;
    const auto it = got.find(key);
    if (it == got.end() || !json_values_match(value, *it)) return false;
  }
  for (const auto& [key, value] : got.items())
    if (!ignored(key, scoring) && !expected.contains(key)) return false;
  return true;
}

bool calls_match(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got,
                 const ArgumentScoring& scoring) {
  if (expected.empty() || expected.size() != got.size()) return false;
  // Matching is an equivalence (equal names, equal values), so a greedy pairing finds one if any exists.
  std::vector<bool> used(got.size(), false);
  for (const auto& e : expected) {
    bool paired = false;
    for (size_t j = 0; j < got.size() && !paired; ++j) {
      if (used[j] || got[j].name != e.name || !arguments_match(e.arguments, got[j].arguments, scoring))
        continue;
      used[j] = paired = true;
    }
    if (!paired) return false;
  }
  return true;
}

int64_t argument_pairs(const std::vector<ParsedCall>& expected, const ArgumentScoring& scoring,
                       const std::string* said) {
  int64_t n = 0;
  for (const auto& e : expected)
    for (const auto& [key, value] : e.arguments.items()) n += counted(key, value, scoring, said) ? 1 : 0;
  return n;
}

int64_t matched_argument_pairs(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got,
                               const ArgumentScoring& scoring, const std::string* said) {
  int64_t total = 0;
  std::vector<bool> used(got.size(), false);
  for (const auto& e : expected) {
    int64_t best = -1;
    size_t best_j = 0;
    for (size_t j = 0; j < got.size(); ++j) {
      if (used[j] || got[j].name != e.name) continue;
      const int64_t n = reproduced_pairs(e.arguments, got[j].arguments, scoring, said);
      if (n > best) best = n, best_j = j;
    }
    if (best < 0) continue;
    used[best_j] = true;
    total += best;
  }
  return total;
}

std::string lower_ascii(std::string text) {
  for (char& c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

bool stated_in(const OrderedJson& value, const std::string& said) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    return s.empty() || said.find(lower_ascii(s)) != std::string::npos;
  }
  if (value.is_number()) return number_stated(value.dump(), said);
  if (value.is_object() || value.is_array()) {
    for (const auto& item : value)
      if (!stated_in(item, said)) return false;
  }
  return true;  // booleans and null
}

bool stated_turn(const std::vector<ParsedCall>& expected, const std::string& said, const ArgumentScoring& scoring) {
  for (const auto& e : expected)
    for (const auto& [key, value] : e.arguments.items())
      if (!ignored(key, scoring) && !stated_in(value, said)) return false;
  return true;
}

}  // namespace mlxft
