#include "mlxft/app/run.h"

#include <fmt/format.h>

#include "mlxft/app/finish.h"
#include "mlxft/app/hooks.h"
#include "mlxft/app/inputs.h"
#include "mlxft/app/output_dir.h"
#include "mlxft/app/settings.h"
#include "mlxft/app/summary.h"
#include "mlxft/config/load.h"
#include "mlxft/report/data_summary.h"
#include "mlxft/train/signals.h"
#include "mlxft/util/logging.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

void start_logging(const TrainRequest& req) {
  const Recipe& r = req.recipe;
  const fs::path out(r.output.output_dir);
  fs::path log_file;
  if (!req.eval_only) {
    lock_output_dir(out);
    prepare_output_dir(r, !req.resume.empty());
    if (!r.logging.log_file.empty()) log_file = out / r.logging.log_file;
  }
  setup_logging(req.debug ? "debug" : r.logging.level, log_file);
}

int train(const TrainRun& run, LoraAdapters adapters) {
  const Recipe& r = run.recipe;
  write_effective_config(r, run.out / "effective_config.yaml");
  const Split& split = run.inputs.split;
  write_data_summary(run.out, summarize_data(run.inputs.report, static_cast<int64_t>(split.train.size()),
                                             static_cast<int64_t>(split.valid.size()),
                                             static_cast<int64_t>(split.test.size())));
  RunHooks hooks(run, adapters);
  Trainer trainer(run.settings, hooks.hooks(), parameter_names(adapters), adapters.flatten());
  StopSignals stop;
  const TrainOutcome outcome = trainer.run(run.request.resume, &stop);
  hooks.finish_progress();
  if (outcome.stopped_by_signal) {
    fmt::print(
        "\nstopped by signal {} at step {}; checkpoint {}\nresume with: mlxft train --config {} --resume "
        "latest\n",
        stop.signal_number(), outcome.step, outcome.last_checkpoint.string(),
        run.request.recipe_path.empty() ? "RECIPE.yaml" : run.request.recipe_path);
    return stop.exit_code();
  }
  return finish_run(run, std::move(adapters), trainer.params(), outcome);
}

}  // namespace

int run_training(const TrainRequest& req) {
  const Recipe& r = req.recipe;
  (void)apply_system_settings(req.recipe.system, req.threads);
  start_logging(req);
  const RunInputs inputs = load_inputs(r);
  if (r.training.objective == "kto" && !req.eval_only) (void)check_kto_data(inputs.split.train, r);
  const Model model = load_base_model(r);
  LoraAdapters adapters = build_adapters(r, model, req.init_adapter);
  const TrainerSettings settings = trainer_settings_from(r, static_cast<int64_t>(inputs.split.train.size()));
  const TrainRun run{req, r, fs::path(r.output.output_dir), inputs, model, settings};
  print_run_summary(r, model, adapters, inputs.split, settings);
  if (req.eval_only) return run_eval_only(run, std::move(adapters));
  return train(run, std::move(adapters));
}

}  // namespace mlxft
