// `mlxft config check RECIPE [overrides]`: loads and validates a recipe, prints the effective config
// (YAML) on stdout and warnings (suspicious settings, input paths that do not exist) on stderr;
// errors exit with status 2.
// `mlxft config reference`: prints the markdown reference of every recipe key.
#include <filesystem>
#include <iostream>
#include <memory>
#include <utility>

#include "cli/commands.h"
#include "cli/recipe_options.h"
#include "mlxft/config/advice.h"
#include "mlxft/config/reference.h"
#include "mlxft/model/shipped.h"
#include "mlxft/util/error.h"

namespace mlxft::cli {
namespace {

struct ConfigCheckOptions {
  std::string recipe;
  Overrides overrides;
};

void run_config_check(const ConfigCheckOptions& options) {
  const Recipe recipe = load_recipe_with_overrides(options.recipe, options.overrides);
  const int64_t total_steps = recipe.training.max_steps > 0 ? recipe.training.max_steps : 0;
  for (const auto& warning : recipe_warnings(recipe, total_steps))
    std::cerr << "warning: " << warning << "\n";
  const std::pair<const char*, std::string> inputs[] = {{"model.path", recipe.model.path},
                                                        {"data.dataset_path", recipe.data.dataset_path},
                                                        {"data.valid_path", recipe.data.valid_path},
                                                        {"data.test_path", recipe.data.test_path}};
  for (const auto& [key, path] : inputs) {
    if (is_shipped_model_name(path)) {
      try {
        (void)resolve_model_path(path);
      } catch (const Error& e) {
        std::cerr << "warning: " << key << ": " << path << ": " << e.detail() << "; " << e.hint() << "\n";
      }
    } else if (!path.empty() && !std::filesystem::exists(path)) {
      std::cerr << "warning: " << key << ": " << path << " does not exist (yet)\n";
    }
  }
  std::cout << recipe_to_yaml(recipe);
}

}  // namespace

void add_config_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* config = app.add_subcommand("config", "Check recipes and print the recipe reference");
  config->require_subcommand(1);

  auto options = std::make_shared<ConfigCheckOptions>();
  auto* check = config->add_subcommand("check", "Validate a recipe and print the effective config");
  check->add_option("recipe", options->recipe, "Recipe YAML file")->required();
  add_recipe_override_options(check, options->overrides);
  check->callback([options] { run_config_check(*options); });

  auto* reference = config->add_subcommand("reference", "Print the markdown reference of every recipe key");
  reference->callback([] { std::cout << config_reference_markdown(); });
}

}  // namespace mlxft::cli
