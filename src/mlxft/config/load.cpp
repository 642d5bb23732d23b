#include "mlxft/config/load.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mlxft/config/schema.h"
#include "mlxft/config/validate.h"
#include "mlxft/model/shipped.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

// The seed's environment variables and the keys they set.
const std::vector<std::pair<std::string, std::string>>& environment_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"BATCH_SIZE", "training.batch_size"}, {"LEARNING_RATE", "training.learning_rate"},
      {"NUM_EPOCHS", "training.num_epochs"}, {"LORA_RANK", "lora.rank"},
      {"DATASET_PATH", "data.dataset_path"}, {"OUTPUT_DIR", "output.output_dir"}};
  return keys;
}

std::vector<std::string> all_field_names() {
  std::vector<std::string> names;
  for (const auto& f : recipe_schema()) names.push_back(f.name());
  return names;
}

// One value to apply to a field, and where it came from (for messages and path resolution).
struct Setting {
  const FieldSpec* field;
  YAML::Node value;
  std::string origin;  // "recipe.yaml:12", "--set", "environment variable BATCH_SIZE", ...
  bool from_file;      // relative paths resolve against the recipe's directory, else the cwd
};

class RecipeParser {
 public:
  RecipeParser(const fs::path& base_dir, std::string source)
      : base_dir_(base_dir), source_(std::move(source)) {}

  void read_file(const std::string& yaml_text) {
    YAML::Node root;
    try {
      root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
      throw Error(ErrorKind::Config, fmt::format("{}:{}:{}", source_, e.mark.line + 1, e.mark.column + 1),
                  "not valid YAML: " + e.msg, "fix the YAML syntax at that line");
    }
    if (root.IsNull()) return;
    if (!root.IsMap()) {
      problem(at(root), "the recipe must be a mapping of sections (model:, lora:, data:, training:, ...)");
      return;
    }
    for (const auto& section : root) {
      const std::string name = section.first.Scalar();
      if (!is_section(name)) {
        unknown_section(name, at(section.first));
        continue;
      }
      if (section.second.IsNull()) continue;
      if (!section.second.IsMap()) {
        problem(at(section.second), fmt::format("section '{}' must be a mapping of key: value", name));
        continue;
      }
      for (const auto& entry : section.second) {
        const std::string key = entry.first.Scalar();
        const FieldSpec* field = find_field(name, key);
        if (field == nullptr) {
          unknown_key(name, key, at(entry.first));
          continue;
        }
        settings_.push_back({field, entry.second, at(entry.second), true});
      }
    }
  }

  void read_environment(const Environment& env) {
    for (const auto& [variable, name] : environment_keys()) {
      const auto it = env.find(variable);
      if (it == env.end() || it->second.empty()) continue;
      add_override(name, it->second, "environment variable " + variable);
    }
  }

  void read_flags(const Overrides& cli) {
    for (const auto& assignment : cli.set) {
      const auto eq = assignment.find('=');
      const auto dot = assignment.find('.');
      if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
        problem("--set " + assignment, "expected section.key=value, e.g. --set training.learning_rate=1e-4");
        continue;
      }
      add_override(assignment.substr(0, eq), assignment.substr(eq + 1), "--set " + assignment.substr(0, eq));
    }
    if (cli.batch_size) add_override("training.batch_size", std::to_string(*cli.batch_size), "--batch-size");
    if (cli.learning_rate) {
      add_override("training.learning_rate", fmt::format("{}", *cli.learning_rate), "--learning-rate");
    }
    if (cli.num_epochs) add_override("training.num_epochs", std::to_string(*cli.num_epochs), "--num-epochs");
    if (cli.lora_rank) add_override("lora.rank", std::to_string(*cli.lora_rank), "--lora-rank");
    if (cli.dataset_path) add_path_override("data.dataset_path", *cli.dataset_path, "--dataset-path");
    if (cli.output_dir) add_path_override("output.output_dir", *cli.output_dir, "--output-dir");
  }

  Recipe build() {
    Recipe recipe;
    std::map<std::string, const Setting*> last;  // the winning setting of each field
    for (const auto& s : settings_) {
      const std::string expected = s.field->decode(recipe, s.value);
      if (!expected.empty()) {
        problem(s.origin, fmt::format("{} must be {}, got {}", s.field->name(), expected, describe(s.value)));
        continue;
      }
      last[s.field->name()] = &s;
    }
    for (const auto& field : recipe_schema()) {
      if (!field.path_ref) continue;
      std::string& value = field.path_ref(recipe);
      const auto& words = field.constraint.keywords;
      if (value.empty() || is_shipped_model_name(value)) continue;                // a name, not a path
      if (std::find(words.begin(), words.end(), value) != words.end()) continue;  // none, infer, ...
      const auto it = last.find(field.name());
      const bool from_file = it != last.end() && it->second->from_file;
      value = resolve_path(value, from_file ? base_dir_ : fs::current_path()).string();
    }
    for (const auto& message : validate_recipe(recipe)) {
      const std::string name = message.substr(0, message.find(' '));
      const auto it = last.find(name);
      problem(it != last.end() ? it->second->origin : "", message);
    }
    if (!problems_.empty()) {
      std::string text = problems_.size() == 1 ? "1 problem in the recipe:"
                                               : fmt::format("{} problems in the recipe:", problems_.size());
      for (const auto& p : problems_) text += "\n  - " + p;
      throw Error(
          ErrorKind::Config, source_, text,
          "`mlxft config reference` (docs/config-reference.md) lists every key, its type and allowed values");
    }
    return recipe;
  }

 private:
  std::string at(const YAML::Node& node) const {
    return node.Mark().is_null() ? source_ : fmt::format("{}:{}", source_, node.Mark().line + 1);
  }

  void problem(const std::string& where, const std::string& what) {
    problems_.push_back(where.empty() ? what : where + ": " + what);
  }

  static bool is_section(const std::string& name) {
    const auto& s = recipe_sections();
    return std::find(s.begin(), s.end(), name) != s.end();
  }

  void unknown_section(const std::string& name, const std::string& where) {
    std::string hint = closest_name(name, recipe_sections());
    for (const auto& f : recipe_schema()) {
      if (f.key == name) hint = f.name() + " (keys belong inside their section)";
    }
    problem(where,
            fmt::format("unknown section '{}'{}", name, hint.empty() ? "" : "; did you mean " + hint + "?"));
  }

  void unknown_key(const std::string& section, const std::string& key, const std::string& where) {
    std::vector<std::string> same_section;
    std::string elsewhere;
    for (const auto& f : recipe_schema()) {
      if (f.section == section) same_section.push_back(f.key);
      if (f.key == key) elsewhere = f.name();
    }
    std::string hint = closest_name(key, same_section);
    if (!hint.empty()) hint = section + "." + hint;
    if (hint.empty()) hint = elsewhere;
    problem(where, fmt::format("unknown key '{}.{}'{}", section, key,
                               hint.empty() ? "" : "; did you mean " + hint + "?"));
  }

  void add_override(const std::string& name, const std::string& text, const std::string& origin) {
    const auto dot = name.find('.');
    const FieldSpec* field =
        dot == std::string::npos ? nullptr : find_field(name.substr(0, dot), name.substr(dot + 1));
    if (field == nullptr) {
      const std::string hint = closest_name(name, all_field_names());
      problem(origin,
              fmt::format("unknown key '{}'{}", name, hint.empty() ? "" : "; did you mean " + hint + "?"));
      return;
    }
    YAML::Node value;
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      problem(origin, fmt::format("{}: '{}' is not a YAML value ({})", name, text, e.msg));
      return;
    }
    settings_.push_back({field, value, origin, false});
  }

  // Paths from flags are taken literally (no YAML parsing: "null" or "123" stay file names).
  void add_path_override(const std::string& name, const std::string& path, const std::string& origin) {
    const auto dot = name.find('.');
    settings_.push_back(
        {find_field(name.substr(0, dot), name.substr(dot + 1)), YAML::Node(path), origin, false});
  }

  static std::string describe(const YAML::Node& node) {
    if (node.IsNull()) return "null";
    if (node.IsScalar()) return "'" + node.Scalar() + "'";
    return node.IsSequence() ? "a list" : "a mapping";
  }

  static fs::path resolve_path(const std::string& value, const fs::path& base) {
    fs::path p = value;
    if (value == "~" || value.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      if (home != nullptr) p = fs::path(home) / value.substr(value.size() > 1 ? 2 : 1);
    }
    if (p.is_relative()) p = base / p;
    return p.lexically_normal();
  }

  fs::path base_dir_;
  std::string source_;
  std::vector<Setting> settings_;  // applied in order: file, environment, --set, named flags
  std::vector<std::string> problems_;
};

}  // namespace

Environment process_environment() {
  Environment env;
  for (const auto& [variable, name] : environment_keys()) {
    if (const char* value = std::getenv(variable.c_str())) env[variable] = value;
  }
  return env;
}

Recipe parse_recipe(const std::string& yaml_text, const fs::path& base_dir, const std::string& source,
                    const Overrides& cli, const Environment& env) {
  RecipeParser parser(fs::absolute(base_dir), source);
  parser.read_file(yaml_text);
  parser.read_environment(env);
  parser.read_flags(cli);
  return parser.build();
}

Recipe load_recipe(const fs::path& recipe_path, const Overrides& cli, const Environment& env) {
  std::error_code ec;
  if (!fs::exists(recipe_path, ec)) {
    throw Error(ErrorKind::Config, recipe_path.string(), "cannot read the recipe file",
                "check the path; configs/ holds example recipes");
  }
  const std::string text = read_untrusted_file(recipe_path, "recipe file", 16ull << 20, ErrorKind::Config);
  return parse_recipe(text, fs::absolute(recipe_path).parent_path(), recipe_path.string(), cli, env);
}

std::string recipe_to_yaml(const Recipe& recipe) {
  YAML::Emitter out;
  out << YAML::Comment("mlxft recipe: every setting, as used (`mlxft config reference` documents each)");
  out << YAML::BeginMap;
  for (const auto& section : recipe_sections()) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const auto& f : recipe_schema()) {
      if (f.section != section) continue;
      out << YAML::Key << f.key << YAML::Value << f.encode(recipe) << YAML::Comment(f.help);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void write_effective_config(const Recipe& recipe, const fs::path& path) {
  write_file_atomic(path, recipe_to_yaml(recipe));
}

}  // namespace mlxft
