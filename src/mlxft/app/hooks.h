// The trainer hooks of a train run: the objective's loss, the length-grouped data order, validation,
// samples, progress display and periodic plots.
//
// Contract:
// - RunHooks owns everything the hooks use (the objective, the batch plan, the progress display)
//   and must outlive the Trainer that gets hooks().
// - loss: training.objective (objective/make_objective.h) on the adapters' layout and the training
//   split; epoch_batches: data/batching.h BatchPlan seeded by training.seed; evaluate (when there
//   is a validation set): the objective's evaluate() over the validation set, each set's loss
//   token-weighted (eval/evaluate.h), eval_batch_size at a time, no dropout;
//   with evaluation.tool_calls also the tool-call metrics
//   (eval/tool_eval.h) of the first tool_call_examples validation conversations, greedy, as the
//   extra metrics tool_turns, tool_call_turns, tool_name_accuracy, tool_arguments_exact,
//   tool_valid_call_rate, tool_no_call_accuracy, tool_arguments_match and tool_argument_accuracy (scored
//   without evaluation.ignore_argument_keys; prompted with the whole data.tools catalogue, if any).
// - write_samples (evaluation.generate_samples, num_samples > 0): generates from the first
//   num_samples validation prompts and appends {"step","index","prompt","generated"} lines to
//   <out>/samples.jsonl; a failed write is a warning (the run goes on).
// - Data parallel: only rank 0 writes samples, shows progress and refreshes plots.
// - after_step (logging.plots and plots_per_epoch > 0): refreshes the plots and report that many
//   times per epoch; a failure there is a warning. For tests, the environment variable
//   MLXFT_TEST_SIGTERM_AFTER_STEP=N raises SIGTERM after step N (a deterministic graceful stop).
#pragma once

#include <memory>

#include "mlxft/app/run_parts.h"
#include "mlxft/data/batching.h"
#include "mlxft/objective/objective.h"
#include "mlxft/util/progress.h"

namespace mlxft {

class RunHooks {
 public:
  RunHooks(const TrainRun& run, const LoraAdapters& layout);
  RunHooks(const RunHooks&) = delete;
  RunHooks& operator=(const RunHooks&) = delete;

  const TrainerHooks& hooks() const { return hooks_; }
  void finish_progress() { progress_.finish(); }

 private:
  void write_samples(const std::vector<mlx::core::array>& params, int64_t step) const;
  void show_progress(const TrainMetrics& line, int64_t total_steps);

  const TrainRun& run_;
  LoraAdapters layout_;
  std::unique_ptr<Objective> objective_;
  BatchPlan plan_;
  ProgressReporter progress_;
  TrainerHooks hooks_;
};

}  // namespace mlxft
