// The trainer hooks of a train run: the SFT loss, the length-grouped data order, validation,
// samples, progress display and periodic plots.
//
// Contract:
// - RunHooks owns everything the hooks use (the objective, the batch plan, the progress display)
//   and must outlive the Trainer that gets hooks().
// - loss: training.objective on the adapters' layout: objective/sft.h, or objective/kto.h on the
//   training split, its reference the base or the base with the init adapter (kto_reference_adapter());
//   (check_kto_data() first: both labels present, else a Config error naming
//   data.labels; a warning with balancing weights when the weighted class ratio is outside
//   [1, 4/3], as TRL warns); epoch_batches: data/batching.h BatchPlan seeded
//   by training.seed; evaluate (when there is a validation set): token-weighted loss over the whole
//   set, eval_batch_size at a time, no dropout; for KTO the loss over the desirable validation
//   examples (what best checkpoint and early stopping follow), with loss_desirable and
//   loss_undesirable as extra losses (the whole set when it has no desirable example);
//   with evaluation.tool_calls also the tool-call metrics
//   (eval/tool_eval.h) of the first tool_call_examples validation conversations, greedy, as the
//   extra metrics tool_turns, tool_call_turns, tool_name_accuracy, tool_arguments_exact,
//   tool_valid_call_rate, tool_no_call_accuracy, tool_arguments_match and tool_argument_accuracy (scored
//   without evaluation.ignore_argument_keys; prompted with the whole data.tools catalogue, if any).
// - write_samples (evaluation.generate_samples, num_samples > 0): generates from the first
//   num_samples validation prompts and appends {"step","index","prompt","generated"} lines to
//   <out>/samples.jsonl; a failed write is an Io error.
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

// Throws a Config error unless `train` has desirable and undesirable examples; warns (and returns the
// message) when desirable_weight x n_d / (undesirable_weight x n_u) is outside [1, 4/3].
std::string check_kto_data(const std::vector<Example>& train, const Recipe& recipe);

// The adapter directory KTO's reference model applies (kto.reference; init_adapter_flag is --init-adapter,
// else training.init_adapter): "" for the base alone. A Config error naming kto.reference when it asks
// for init_adapter and training starts from none.
std::string kto_reference_adapter(const Recipe& recipe, const std::string& init_adapter_flag);

class RunHooks {
 public:
  RunHooks(const TrainRun& run, const LoraAdapters& layout);
  RunHooks(const RunHooks&) = delete;
  RunHooks& operator=(const RunHooks&) = delete;

  const TrainerHooks& hooks() const { return hooks_; }
  void finish_progress() { progress_.finish(); }

 private:
  void write_samples(const std::vector<mlx::core::array>& params, int64_t step) const;
  EvalResult evaluate_by_label(const LoraAdapters& adapters) const;
  void show_progress(const TrainMetrics& line, int64_t total_steps);

  const TrainRun& run_;
  LoraAdapters layout_;
  std::unique_ptr<Objective> objective_;
  BatchPlan plan_;
  ProgressReporter progress_;
  TrainerHooks hooks_;
};

}  // namespace mlxft
