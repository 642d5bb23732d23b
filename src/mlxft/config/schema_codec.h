// The YAML codec behind the recipe schema (config/schema.cpp only): how each C++ type of a recipe
// field is decoded from and encoded to YAML, and how a decoded value is checked against its
// constraint.
//
// Contract:
// - Codec<T>::decode(node, out) returns "" on success, else the problem in words ("must be an
//   integer, got '2.5'"); Codec<T>::encode(value) gives the YAML node the effective config writes.
// - check_value(v, constraint) returns one line per violated rule (range, choices, list rules).
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "mlxft/config/schema.h"

namespace mlxft::schema_codec {

// ---- decoding and encoding one C++ type from/to YAML ----------------------------------------

template <class T>
struct Codec;

template <class Int>
std::string decode_integer(const YAML::Node& n, Int& out) {
  if (!n.IsScalar()) return "an integer";
  const std::string& s = n.Scalar();
  int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data() + (!s.empty() && s[0] == '+' ? 1 : 0), end, v);
  if (ec != std::errc() || ptr != end || s.empty()) return "an integer";
  if (v < std::numeric_limits<Int>::min() || v > std::numeric_limits<Int>::max())
    return "an integer in range";
  out = static_cast<Int>(v);
  return "";
}

template <>
struct Codec<int> {
  static constexpr const char* type = "integer";
  static std::string decode(const YAML::Node& n, bool, int& out) { return decode_integer(n, out); }
  static YAML::Node encode(int v) { return YAML::Node(std::to_string(v)); }
};

template <>
struct Codec<int64_t> {
  static constexpr const char* type = "integer";
  static std::string decode(const YAML::Node& n, bool, int64_t& out) { return decode_integer(n, out); }
  static YAML::Node encode(int64_t v) { return YAML::Node(std::to_string(v)); }
};

template <>
struct Codec<double> {
  static constexpr const char* type = "number";
  static std::string decode(const YAML::Node& n, bool, double& out) {
    if (!n.IsScalar()) return "a number";
    const std::string& s = n.Scalar();
    const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(begin, end, v);
    if (ec != std::errc() || ptr != end || s.empty() || !std::isfinite(v)) return "a finite number";
    out = v;
    return "";
  }
  static YAML::Node encode(double v) { return YAML::Node(fmt::format("{}", v)); }
};

template <>
struct Codec<bool> {
  static constexpr const char* type = "boolean";
  static std::string decode(const YAML::Node& n, bool, bool& out) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return "true or false";
    out = v;
    return "";
  }
  static YAML::Node encode(bool v) { return YAML::Node(v ? "true" : "false"); }
};

template <>
struct Codec<std::string> {
  static constexpr const char* type = "string";
  static std::string decode(const YAML::Node& n, bool nullable, std::string& out) {
    if (n.IsNull() && nullable) {
      out.clear();
      return "";
    }
    if (!n.IsScalar()) return nullable ? "a string or null" : "a string";
    out = n.Scalar();
    return "";
  }
  static YAML::Node encode(const std::string& v) {
    return v.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Node(v);
  }
};

template <>
struct Codec<std::vector<std::string>> {
  static constexpr const char* type = "list of strings";
  static std::string decode(const YAML::Node& n, bool, std::vector<std::string>& out) {
    if (!n.IsSequence()) return "a list of strings, e.g. [a, b]";
    std::vector<std::string> v;
    for (const auto& item : n) {
      if (!item.IsScalar()) return "a list of strings, e.g. [a, b]";
      v.push_back(item.Scalar());
    }
    out = std::move(v);
    return "";
  }
  static YAML::Node encode(const std::vector<std::string>& v) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& s : v) n.push_back(s);
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
};

template <>
struct Codec<std::optional<std::vector<int>>> {
  static constexpr const char* type = "list of integers or null";
  static std::string decode(const YAML::Node& n, bool, std::optional<std::vector<int>>& out) {
    if (n.IsNull()) {
      out.reset();
      return "";
    }
    if (!n.IsSequence()) return "a list of integers (e.g. [0, 1, 2]) or null";
    std::vector<int> v;
    for (const auto& item : n) {
      int x = 0;
      if (!decode_integer(item, x).empty()) return "a list of integers (e.g. [0, 1, 2]) or null";
      v.push_back(x);
    }
    out = std::move(v);
    return "";
  }
  static YAML::Node encode(const std::optional<std::vector<int>>& v) {
    if (!v) return YAML::Node(YAML::NodeType::Null);
    YAML::Node n(YAML::NodeType::Sequence);
    for (int x : *v) n.push_back(std::to_string(x));
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
};

template <>
struct Codec<std::optional<QuantizeSection>> {
  static constexpr const char* type = "{bits, group_size} or null";
  static std::string decode(const YAML::Node& n, bool, std::optional<QuantizeSection>& out) {
    if (n.IsNull()) {
      out.reset();
      return "";
    }
    const char* want = "null or {bits: 4|8, group_size: 32|64|128}";
    if (!n.IsMap()) return want;
    QuantizeSection q;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      int* slot = key == "bits" ? &q.bits : key == "group_size" ? &q.group_size : nullptr;
      if (!slot || !decode_integer(kv.second, *slot).empty()) return want;
    }
    if ((q.bits != 4 && q.bits != 8) || (q.group_size != 32 && q.group_size != 64 && q.group_size != 128))
      return want;
    out = q;
    return "";
  }
  static YAML::Node encode(const std::optional<QuantizeSection>& v) {
    if (!v) return YAML::Node(YAML::NodeType::Null);
    YAML::Node n(YAML::NodeType::Map);
    n["bits"] = std::to_string(v->bits);
    n["group_size"] = std::to_string(v->group_size);
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
};

// ---- checking a decoded value against its constraint -----------------------------------------

inline std::string list_words(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

template <class T>
std::vector<std::string> check_value(const T& v, const Constraint& c) {
  std::vector<std::string> errors;
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (!c.range.contains(static_cast<double>(v))) {
      errors.push_back(fmt::format("is {}, must be {}", Codec<T>::encode(v).Scalar(), c.range.describe()));
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (v.empty()) {
      if (c.required) errors.push_back("is required");
    } else if (!c.choices.empty() && std::find(c.choices.begin(), c.choices.end(), v) == c.choices.end()) {
      errors.push_back(fmt::format("is '{}', must be one of: {}", v, list_words(c.choices)));
    }
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (v.empty() && c.required) errors.push_back("must list at least one item");
    std::set<std::string> seen;
    for (const auto& item : v) {
      if (!c.choices.empty() && std::find(c.choices.begin(), c.choices.end(), item) == c.choices.end()) {
        errors.push_back(fmt::format("has '{}', each item must be one of: {}", item, list_words(c.choices)));
      }
      if (!seen.insert(item).second) errors.push_back(fmt::format("lists '{}' twice", item));
    }
  } else if constexpr (std::is_same_v<T, std::optional<std::vector<int>>>) {
    if (v) {
      if (v->empty()) errors.push_back("is an empty list; use null for every layer");
      std::set<int> seen;
      for (int x : *v) {
        if (!c.range.contains(x))
          errors.push_back(fmt::format("has {}, each must be {}", x, c.range.describe()));
        if (!seen.insert(x).second) errors.push_back(fmt::format("lists {} twice", x));
      }
    }
  }
  return errors;
}

}  // namespace mlxft::schema_codec
