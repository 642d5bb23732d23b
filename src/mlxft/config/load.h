// Loading a recipe: YAML file + overrides -> a validated Recipe, and writing it back.
//
// Contract: load_recipe() applies, highest first, the command-line flags (named flags, then
// `--set section.key=value` whose values are YAML scalars or flow lists), the environment variables
// (BATCH_SIZE, LEARNING_RATE, NUM_EPOCHS, LORA_RANK, DATASET_PATH, OUTPUT_DIR), the YAML file, the
// defaults. Every problem (unknown section or key, with "did you mean" when close; wrong type; value
// out of range or not an allowed choice; missing required key; inconsistent splits) is collected,
// and all are thrown together as one Config error naming each section.key. Relative paths from the
// file resolve against the file's directory, those from flags/environment against the working
// directory; a shipped model's name (`shipped:NAME`, model/shipped.h) stays as written.
// write_effective_config() writes every key (atomically: temp file, then rename) as YAML
// that load_recipe() reads back to an equal Recipe.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/config/recipe.h"

namespace mlxft {

// The seed's command-line overrides; unset ones do not apply.
struct Overrides {
  std::optional<int> batch_size;
  std::optional<double> learning_rate;
  std::optional<int> num_epochs;
  std::optional<int> lora_rank;
  std::optional<std::string> dataset_path;
  std::optional<std::string> output_dir;
  std::vector<std::string> set;  // "section.key=value", applied in order (a later one wins)
};

// Environment variables by name (injectable for tests).
using Environment = std::map<std::string, std::string>;
// The override variables present in this process's environment.
Environment process_environment();

Recipe load_recipe(const std::filesystem::path& recipe_path, const Overrides& cli = {},
                   const Environment& env = {});
// Same, from YAML text; `base_dir` resolves relative paths, `source` names it in errors.
Recipe parse_recipe(const std::string& yaml_text, const std::filesystem::path& base_dir,
                    const std::string& source, const Overrides& cli = {}, const Environment& env = {});

// The recipe as YAML text (every key, sections and keys in schema order, with comments).
std::string recipe_to_yaml(const Recipe& recipe);
// Writes recipe_to_yaml() to `path` atomically. Io error on failure.
void write_effective_config(const Recipe& recipe, const std::filesystem::path& path);

}  // namespace mlxft
