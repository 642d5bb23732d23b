#include "mlxft/app/run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include "mlxft/app/finish.h"
#include "mlxft/app/hooks.h"
#include "mlxft/app/inputs.h"
#include "mlxft/app/output_dir.h"
#include "mlxft/app/settings.h"
#include "mlxft/app/summary.h"
#include "mlxft/chat/model_format.h"
#include "mlxft/config/load.h"
#include "mlxft/model/source.h"
#include "mlxft/objective/make_objective.h"
#include "mlxft/report/data_summary.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/train/signals.h"
#include "mlxft/util/error.h"
#include "mlxft/util/logging.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

// Rank 0 owns the output directory and the log file; the other ranks log warnings and errors only.
void start_logging(const TrainRequest& req, const DistributedGroup& group) {
  const Recipe& r = req.recipe;
  const fs::path out(r.output.output_dir);
  if (!group.is_main()) {
    setup_logging(req.debug ? "debug" : "warn");
    return;
  }
  fs::path log_file;
  if (!req.eval_only) {
    lock_output_dir(out);
    prepare_output_dir(r, !req.resume.empty());
    if (!r.logging.log_file.empty()) log_file = out / r.logging.log_file;
  }
  setup_logging(req.debug ? "debug" : r.logging.level, log_file);
}

void write_run_files(const TrainRun& run) {
  write_effective_config(run.recipe, run.out / "effective_config.yaml");
  const Split& split = run.inputs.split;
  write_data_summary(run.out, summarize_data(run.inputs.report, static_cast<int64_t>(split.train.size()),
                                             static_cast<int64_t>(split.valid.size()),
                                             static_cast<int64_t>(split.test.size())));
}

// A rank stopped because another rank got the signal exits as if it had got SIGTERM.
int stopped(const TrainRun& run, const StopSignals& stop, const TrainOutcome& outcome) {
  const int sig = stop.signal_number() != 0 ? stop.signal_number() : SIGTERM;
  if (!run.group.is_main()) return 128 + sig;
  fmt::print(
      "\nstopped by signal {} at step {}; checkpoint {}\nresume with: mlxft train --config {} --resume "
      "latest\n",
      sig, outcome.step, outcome.last_checkpoint.string(),
      run.request.recipe_path.empty() ? "RECIPE.yaml" : run.request.recipe_path);
  return 128 + sig;
}

// A failed write (disk full, I/O error) says what is safe and how to go on: the newest checkpoint
// that verifies, and the resume command.
Error with_resume_hint(const TrainRun& run, const Error& e) {
  const std::vector<StoredCheckpoint> saved = CheckpointStore(run.out / "checkpoints").list();
  std::string last;
  for (auto it = saved.rbegin(); it != saved.rend() && last.empty(); ++it)
    if (CheckpointStore::verify(it->dir).empty()) last = it->dir.string();
  const std::string fix = "free space (or fix the disk), then run `mlxft train --config " +
                          (run.request.recipe_path.empty() ? "RECIPE.yaml" : run.request.recipe_path) +
                          (last.empty() ? "` again" : " --resume latest`");
  return Error(e.kind(), e.where(), e.detail(),
               last.empty() ? fix : fmt::format("the last good checkpoint is {}; {}", last, fix));
}

int train_and_finish(const TrainRun& run, LoraAdapters adapters) {
  if (run.group.is_main()) write_run_files(run);
  RunHooks hooks(run, adapters);
  Trainer trainer(run.settings, hooks.hooks(), parameter_names(adapters), adapters.flatten());
  trainer.use_group(run.group);
  StopSignals stop;
  const TrainOutcome outcome = trainer.run(run.request.resume, &stop);
  hooks.finish_progress();
  if (outcome.stopped_by_signal) return stopped(run, stop, outcome);
  if (!run.group.is_main()) return 0;  // rank 0 writes the exports and the report
  return finish_run(run, std::move(adapters), trainer.params(), outcome);
}

int train(const TrainRun& run, LoraAdapters adapters) {
  try {
    return train_and_finish(run, std::move(adapters));
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Io) throw;
    throw with_resume_hint(run, e);
  }
}

void check_shards(const Recipe& r, const DistributedGroup& group) {
  if (!group.active()) return;
  check_objective_shards(r, group.size());
  if (r.training.batch_size % group.size() == 0) return;
  throw Error(
      ErrorKind::Config, "training.batch_size",
      fmt::format("{} is the global micro-batch, cut into {} equal rank shards: it must be a multiple of "
                  "{}",
                  r.training.batch_size, group.size(), group.size()),
      fmt::format("set training.batch_size to {} x the micro-batch you want per rank", group.size()));
}

}  // namespace

int run_training(const TrainRequest& req) {
  const Recipe& r = req.recipe;
  const SystemApplied applied = apply_system_settings(req.recipe.system, req.threads, req.device);
  const DistributedGroup group = DistributedGroup::join(r.system.distributed, r.system.distributed_timeout_s);
  check_shards(r, group);
  start_logging(req, group);
  if (group.active()) spdlog::info("rank {} of {} ({} backend)", group.rank(), group.size(), group.backend());
  const RunInputs inputs = load_inputs(r);
  if (!req.eval_only)
    (void)check_objective_data(r, inputs.split.train, req.init_adapter);  // before the model
  Model model = load_base_model(r);
  // The same check generate and eval make: no token id past the embedding table reaches the model.
  check_tokenizer_fits_model(*inputs.tokenizer, model.config, resolve_model_source(r.model.path).tokenizer_file);
  LoraAdapters adapters = build_adapters(r, model, req.init_adapter);
  const TrainerSettings settings = trainer_settings_from(r, static_cast<int64_t>(inputs.split.train.size()));
  model.pack_weights = choose_weight_packing(r, model, adapters, inputs.split, settings, group.size());
  const TrainRun run{req, r, fs::path(r.output.output_dir), inputs, model, settings, group};
  if (group.is_main())
    print_run_summary(r, model, adapters, inputs.split, settings, applied.device, group.size());
  if (req.eval_only) return group.is_main() ? run_eval_only(run, std::move(adapters)) : 0;
  return train(run, std::move(adapters));
}

}  // namespace mlxft
