// `mlxft train --config RECIPE.yaml [overrides] [--init-adapter DIR] [--resume [DIR|latest]]
// [--eval-only] [--tensorboard]`: LoRA fine-tuning as the recipe says (see src/mlxft/app/run.h).
// Exit status: 0 done; 1 a run failure; 2 a usage or configuration error; 130 / 143 when SIGINT /
// SIGTERM stopped the run after it wrote a checkpoint (resume with --resume latest).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "cli/recipe_options.h"
#include "mlxft/app/run.h"

namespace mlxft::cli {

namespace {

struct TrainArgs {
  std::string recipe;
  Overrides overrides;
  std::string init_adapter;
  std::string resume;
  bool eval_only = false;
  bool tensorboard = false;
};

}  // namespace

void add_train_command(CLI::App& app, const GlobalOptions& global) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Fine-tune a model with LoRA as a recipe says");
  cmd->add_option("--config,-c", args->recipe, "Recipe YAML file")->required()->check(CLI::ExistingFile);
  add_recipe_override_options(cmd, args->overrides);
  cmd->add_option("--init-adapter", args->init_adapter, "Start from this adapter (PEFT or mlx-lm directory)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--resume", args->resume,
                  "Continue from a checkpoint: 'latest' (default when given alone) or a checkpoint directory")
      ->expected(0, 1)
      ->default_str("latest");
  cmd->add_flag("--eval-only", args->eval_only,
                "Only report the validation loss (with --init-adapter or --resume)");
  cmd->add_flag("--tensorboard", args->tensorboard,
                "Also write TensorBoard event files to output_dir/tensorboard/ (logging.tensorboard)");
  cmd->callback([args, cmd, &global] {
    TrainRequest req;
    Overrides overrides = args->overrides;
    if (args->tensorboard) overrides.set.insert(overrides.set.begin(), "logging.tensorboard=true");
    req.recipe = load_recipe_with_overrides(args->recipe, overrides);
    req.recipe_path = args->recipe;
    req.init_adapter = args->init_adapter;
    if (cmd->count("--resume") > 0) req.resume = args->resume.empty() ? "latest" : args->resume;
    req.eval_only = args->eval_only;
    req.debug = global.debug;
    req.threads = global.threads;
    req.device = global.device;
    const int status = run_training(req);
    if (status != 0) {
      std::fflush(stdout);
      spdlog::shutdown();
      std::exit(status);
    }
  });
}

}  // namespace mlxft::cli
