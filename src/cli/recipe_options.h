// The recipe override flags every recipe-reading subcommand shares (the seed's --batch-size,
// --learning-rate, --num-epochs, --lora-rank, --dataset-path, --output-dir, and --set
// section.key=value), and loading a recipe with them and the process environment.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "mlxft/config/load.h"

namespace mlxft::cli {

// Adds the override flags to `command`; parsed values land in `overrides`.
void add_recipe_override_options(CLI::App* command, Overrides& overrides);

// load_recipe(recipe, overrides, process_environment()).
Recipe load_recipe_with_overrides(const std::string& recipe, const Overrides& overrides);

}  // namespace mlxft::cli
