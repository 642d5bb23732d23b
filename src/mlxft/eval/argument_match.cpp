#include "mlxft/eval/argument_match.h"

namespace mlxft {

namespace {

bool ignored(const std::string& key, const ArgumentScoring& scoring) {
  return scoring.ignore_keys.count(key) != 0;
}

// The pairs of one expected call's arguments that got reproduces.
int64_t reproduced_pairs(const OrderedJson& expected, const OrderedJson& got,
                         const ArgumentScoring& scoring) {
  int64_t n = 0;
  for (const auto& [key, value] : expected.items()) {
    if (ignored(key, scoring)) continue;
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

int64_t argument_pairs(const std::vector<ParsedCall>& expected, const ArgumentScoring& scoring) {
  int64_t n = 0;
  for (const auto& e : expected)
    for (const auto& [key, value] : e.arguments.items()) n += ignored(key, scoring) ? 0 : 1;
  return n;
}

int64_t matched_argument_pairs(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got,
                               const ArgumentScoring& scoring) {
  int64_t total = 0;
  std::vector<bool> used(got.size(), false);
  for (const auto& e : expected) {
    int64_t best = -1;
    size_t best_j = 0;
    for (size_t j = 0; j < got.size(); ++j) {
      if (used[j] || got[j].name != e.name) continue;
      const int64_t n = reproduced_pairs(e.arguments, got[j].arguments, scoring);
      if (n > best) best = n, best_j = j;
    }
    if (best < 0) continue;
    used[best_j] = true;
    total += best;
  }
  return total;
}

}  // namespace mlxft
