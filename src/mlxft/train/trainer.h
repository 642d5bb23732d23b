// The training loop: epochs of micro-batches, accumulation into optimizer steps, the schedule,
// non-finite step skipping, periodic logging, evaluation, early stopping, checkpoints, exact resume
// and graceful stop.
//
// Contract:
// - The loop is independent of the model: it owns a flat list of float32 parameters and reaches
//   the model only through TrainerHooks (the micro-batch loss, the data order, batch building,
//   evaluation, sample generation).
// - Data order: TrainerHooks::epoch_batches gives the micro-batches (rows by position) of an epoch,
//   a pure function of the epoch, micro_batches_per_epoch() of them; accumulation_steps consecutive
//   micro-batches make one optimizer step (the last step of an epoch may have fewer).
// - Steps are counted 1-based after the update, skipped steps included. The warmup is
//   config/recipe.h warmup_steps_for().
// - A checkpoint (checkpoint.h) is written every save_steps, at the end of each epoch, at the end
//   of the run, on a new best evaluation when save_best, and when a stop signal arrives; it holds
//   the parameters, the optimizer state and state.json (trainer_state.h), so run() from a
//   checkpoint ends bit-identical to an uninterrupted run.
// - Every train/eval/skip record (report/metrics.h) goes to the metrics sinks, in order, on rank 0:
//   first metrics.jsonl (MetricsWriter, which the trainer opens), then TrainerHooks::metrics_sinks.
//   On resume metrics.jsonl is cut back (atomically) to the lines the checkpoint had seen, and the
//   other sinks get on_resume(step). Without metrics_sinks the train lines are logged (spdlog info).
//   A sink that cannot write (an Io error: disk full, I/O error) is warned about, naming the file,
//   and dropped for the rest of the run: metrics never stop a run. A checkpoint that cannot be
//   written stops it (an Io error naming the file; the previous checkpoint stays as it was).
// - Data parallel (use_group() with a DistributedGroup of N > 1 ranks, distributed.h): every rank runs
//   this loop on the same data order; each micro-batch is cut into rank shards (group.shard()), the
//   gradient sums, loss sums and token counts of the step are summed over the ranks before the
//   division, so every rank applies the same update of the mean loss over all trained tokens of the
//   global step (tokens in metrics and progress are global). Dropout keys also depend on the rank. A
//   stop signal on any rank stops every rank after the same step (an exchanged flag per step). Only
//   rank 0 writes checkpoints and metrics; on resume rank 0 reads the checkpoint and sends it to the
//   others, so their output directories need not be shared. Every rank evaluates (same numbers).
// - Health warnings (health.h) are logged, never fatal. advanced.max_consecutive_nan skipped steps
//   in a row throw a Training error (nothing is saved after the last good checkpoint).
#pragma once

#include <mlx/mlx.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/objective/eval_result.h"
#include "mlxft/report/metrics.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/train/health.h"
#include "mlxft/train/optimizer.h"
#include "mlxft/train/schedule.h"
#include "mlxft/train/step.h"
#include "mlxft/train/trainer_state.h"

namespace mlxft {

class StopSignals;
class DistributedGroup;

struct TrainerSettings {
  int64_t num_train_examples = 0;
  int batch_size = 2;
  int accumulation_steps = 4;
  int num_epochs = 1;
  int64_t max_steps = -1;  // > 0 overrides num_epochs
  uint64_t seed = 42;
  OptimizerConfig optimizer;
  std::string lr_scheduler = "cosine";
  double learning_rate = 2e-4;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double min_lr_ratio = 0.1;
  double max_grad_norm = 1.0;
  int64_t logging_steps = 10;
  int64_t eval_steps = 0;  // 0: at the end of each epoch
  int64_t save_steps = 0;  // 0: at the end of each epoch
  int save_total_limit = 3;
  bool save_best = true;
  int early_stopping_patience = 0;  // 0: off
  double early_stopping_threshold = 0.0;
  int max_consecutive_nan = 3;
  double loss_rise_warning = 1.5;        // warn when the logged loss grows this much over 10 logs
  double grad_norm_warning_high = 10.0;  // warn when a logged gradient norm is above ...
  double grad_norm_warning_low = 1e-6;   // ... or below these
  std::filesystem::path output_dir;
  std::string metrics_file = "metrics.jsonl";
  std::string config_yaml;  // the effective config, stored in each checkpoint

  int64_t micro_batches_per_epoch() const;
  int64_t steps_per_epoch() const;
  int64_t total_steps() const;
  LrSchedule schedule() const;
};

struct TrainerHooks {
  MicroBatchLoss loss;                                                     // required
  std::function<Batch(const std::vector<int64_t>& positions)> make_batch;  // required: rows by position
  // required: the micro-batches (rows by position) of an epoch, a pure function of the epoch;
  // must give micro_batches_per_epoch() batches (data/batching.h BatchPlan in the train command).
  std::function<std::vector<std::vector<int64_t>>(int64_t epoch)> epoch_batches;
  std::function<EvalResult(const std::vector<mx::array>& params)> evaluate;               // optional
  std::function<void(const std::vector<mx::array>& params, int64_t step)> write_samples;  // optional
  // optional: sinks fed after metrics.jsonl on rank 0 (progress display, ...); given on any rank,
  // they replace the train lines' log.
  std::vector<std::shared_ptr<MetricsSink>> metrics_sinks;
  // Called after every optimizer step, once its logging, evaluation and checkpoint are done.
  std::function<void(int64_t step)> after_step;  // optional
};

struct TrainOutcome {
  int64_t step = 0;
  bool stopped_by_signal = false;
  bool early_stopped = false;
  std::optional<double> best_eval_loss;
  std::optional<int64_t> best_step;
  std::optional<EvalResult> last_eval;
  std::filesystem::path last_checkpoint;
};

class Trainer {
 public:
  // `names` label `params` in checkpoints (same order).
  Trainer(TrainerSettings settings, TrainerHooks hooks, std::vector<std::string> names,
          std::vector<mx::array> params);

  // resume: empty = fresh start; "latest" = newest valid checkpoint under output_dir/checkpoints
  // (a fresh start when there is none); anything else = that checkpoint directory.
  TrainOutcome run(const std::string& resume = {}, const StopSignals* stop = nullptr);

  // Trains data-parallel in `group` (which must outlive run()); without it: one process.
  void use_group(const DistributedGroup& group) { group_ = &group; }

  const std::vector<mx::array>& params() const { return params_; }
  const TrainerSettings& settings() const { return s_; }

 private:
  using Clock = std::chrono::steady_clock;
  using Found = std::optional<std::pair<StoredCheckpoint, CheckpointContent>>;
  bool is_main() const;
  bool distributed() const;
  bool stop_requested(const StopSignals* stop) const;
  void restore(const std::string& resume, TrainerState& st);
  Found share_checkpoint(const Found& found) const;
  void cut_metrics_back(TrainerState& st);
  void open_sinks(const std::filesystem::path& metrics, bool append);
  void feed_sinks(const std::function<void(MetricsSink&)>& call);
  std::filesystem::path save_checkpoint(const TrainerState& st);
  std::vector<std::vector<int64_t>> epoch_order(int64_t epoch) const;
  template <typename Line>
  void append_metrics(const Line& line, TrainerState& st);

  double elapsed() const;
  double fractional_epoch(const TrainerState& st) const;
  void save(TrainerState& st);
  void evaluate_baseline(TrainerState& st);
  bool evaluate_and_track(TrainerState& st);
  // One optimizer step over the next micro-batches of `order`; returns its learning rate.
  double train_step(TrainerState& st, const std::vector<std::vector<int64_t>>& order,
                    const LrSchedule& schedule);
  void flush_log_window(TrainerState& st, double lr, int64_t total);
  // Evaluation, checkpoint and hook after a step; true when early stopping ends the run.
  bool after_step(TrainerState& st, bool epoch_end, bool last_step);

  TrainerSettings s_;
  TrainerHooks hooks_;
  std::vector<std::string> names_;
  std::vector<mx::array> params_;
  const DistributedGroup* group_ = nullptr;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<std::shared_ptr<MetricsSink>> sinks_;  // rank 0: metrics.jsonl, then hooks_.metrics_sinks
  HealthMonitor health_;
  Clock::time_point run_start_;
  Clock::time_point window_start_;
  double elapsed_before_ = 0.0;
};

}  // namespace mlxft
