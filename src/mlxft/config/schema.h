// The recipe schema: one table with a row per setting (section, key, type, allowed values, help,
// and accessors into Recipe). Parsing, validation, the effective-config writer and the markdown
// reference all walk this table, so a setting documented is a setting parsed and checked.
//
// Contract: recipe_schema() lists every field of Recipe exactly once, sections in the order of
// recipe_sections(). FieldSpec::decode() sets the field from a YAML node or returns a message naming
// the expected type; FieldSpec::check() returns the problems of the field's current value (range,
// choices, required); FieldSpec::encode() gives the value as a YAML node (null for "not set").
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/config/recipe.h"

namespace mlxft {

// Numeric bounds of a setting (of each element, for integer lists).
struct Range {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_open = false;   // low itself is not allowed
  bool high_open = false;  // high itself is not allowed
  bool contains(double v) const;
  std::string describe() const;  // ">= 1", "0 to 1", "> 0 and < 1", "" when unbounded
};

struct Constraint {
  Range range;
  std::vector<std::string> choices;   // allowed strings (of each element, for string lists)
  bool required = false;              // must be set (non-empty)
  bool nullable = false;              // null is a value ("not set")
  bool path = false;                  // a filesystem path, resolved at load
  std::vector<std::string> keywords;  // for a path: words that stand for themselves, never resolved
};

struct FieldSpec {
  std::string section;
  std::string key;
  std::string type;  // "integer", "number", "boolean", "string", "path", "list of strings", ...
  std::string help;
  Constraint constraint;
  // "" on success, else what was expected ("an integer", "a list of strings", ...).
  std::function<std::string(Recipe&, const YAML::Node&)> decode;
  std::function<YAML::Node(const Recipe&)> encode;
  std::function<std::vector<std::string>(const Recipe&)> check;
  // Read/write access to a path-valued field (only when constraint.path).
  std::function<std::string&(Recipe&)> path_ref;

  std::string name() const { return section + "." + key; }
  std::string allowed() const;  // the choices or range in words ("" when anything of the type goes)
};

const std::vector<std::string>& recipe_sections();
const std::vector<FieldSpec>& recipe_schema();
const FieldSpec* find_field(const std::string& section, const std::string& key);

// A scalar or flow list as it would appear in YAML ("2", "0.0002", "[q_proj, v_proj]", "null").
std::string yaml_inline(const YAML::Node& node);

}  // namespace mlxft
