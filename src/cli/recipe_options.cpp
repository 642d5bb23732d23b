#include "cli/recipe_options.h"

namespace mlxft::cli {

void add_recipe_override_options(CLI::App* command, Overrides& overrides) {
  command->add_option_function<int>(
      "--batch-size", [&overrides](const int& v) { overrides.batch_size = v; },
      "Override training.batch_size");
  command->add_option_function<double>(
      "--learning-rate", [&overrides](const double& v) { overrides.learning_rate = v; },
      "Override training.learning_rate");
  command->add_option_function<int>(
      "--num-epochs", [&overrides](const int& v) { overrides.num_epochs = v; },
      "Override training.num_epochs");
  command->add_option_function<int>(
      "--lora-rank", [&overrides](const int& v) { overrides.lora_rank = v; }, "Override lora.rank");
  command->add_option_function<std::string>(
      "--dataset-path", [&overrides](const std::string& v) { overrides.dataset_path = v; },
      "Override data.dataset_path");
  command->add_option_function<std::string>(
      "--output-dir", [&overrides](const std::string& v) { overrides.output_dir = v; },
      "Override output.output_dir");
  command->add_option("--set", overrides.set, "Override any key: --set section.key=value (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

Recipe load_recipe_with_overrides(const std::string& recipe, const Overrides& overrides) {
  return load_recipe(recipe, overrides, process_environment());
}

}  // namespace mlxft::cli
