// The training loop: epochs of shuffled micro-batches, accumulation into optimizer steps, the
// schedule, non-finite step skipping, periodic logging, evaluation, early stopping, checkpoints,
// exact resume and graceful stop.
//
// Contract: the loop is independent of the model: it owns a flat list of float32 parameters and
// reaches the model only through TrainerHooks (the micro-batch loss, batch building, evaluation,
// sample generation). Data order: epoch e visits the training examples in a permutation drawn from
// seed + e, cut into micro-batches of batch_size; accumulation_steps consecutive micro-batches make
// one optimizer step (the last step of an epoch may have fewer). TrainerHooks::epoch_batches can
// replace the order (e.g. length-grouped batches), under the same rule: a pure function of the epoch. Steps
// are counted 1-based after the update, skipped steps included. A checkpoint (see checkpoint.h) is written
// every save_steps, at the end of each epoch, at the end of the run and when a stop signal arrives; it holds
// the parameters, the optimizer state and everything resume needs (state.json: step, epoch, position in
// epoch, seed, best eval loss and step, early-stopping and NaN counters, metrics line count, config hash), so
// run() from a checkpoint ends bit-identical to an uninterrupted run. metrics.jsonl gets the train/eval/skip
// lines of the agreed contract; on resume it is cut back to the lines the checkpoint had seen. Health
// warnings (logged, never fatal): a logged gradient norm outside [grad_norm_warning_low,
// grad_norm_warning_high], a logged loss above loss_rise_warning x the one 10 logs earlier.
// advanced.max_consecutive_nan skipped steps in a row throw a Training error (nothing is saved after the last
// good checkpoint).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/train/optimizer.h"
#include "mlxft/train/schedule.h"
#include "mlxft/train/step.h"
#include "mlxft/util/logging.h"

namespace mlxft {

class StopSignals;

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

struct EvalSummary {
  double loss = 0.0;
  double perplexity = 0.0;
  int64_t tokens = 0;
};

struct TrainerHooks {
  MicroBatchLoss loss;                                                     // required
  std::function<Batch(const std::vector<int64_t>& positions)> make_batch;  // required: rows by position
  // The micro-batches (rows by position) of an epoch, a pure function of the epoch; default:
  // shuffled_micro_batches(). Must give micro_batches_per_epoch() batches.
  std::function<std::vector<std::vector<int64_t>>(int64_t epoch)> epoch_batches;
  std::function<EvalSummary(const std::vector<mx::array>& params)> evaluate;              // optional
  std::function<void(const std::vector<mx::array>& params, int64_t step)> write_samples;  // optional
  // Called with every train line (progress display); without it the line is logged (spdlog info).
  std::function<void(const TrainMetrics& line, int64_t total_steps)> on_train_log;  // optional
  // Called after every optimizer step, once its logging, evaluation and checkpoint are done.
  std::function<void(int64_t step)> after_step;  // optional
};

struct TrainOutcome {
  int64_t step = 0;
  bool stopped_by_signal = false;
  bool early_stopped = false;
  std::optional<double> best_eval_loss;
  std::optional<int64_t> best_step;
  std::optional<EvalSummary> last_eval;
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

  const std::vector<mx::array>& params() const { return params_; }
  const TrainerSettings& settings() const { return s_; }

 private:
  struct State;
  void restore(const std::string& resume, State& st);
  std::filesystem::path save_checkpoint(const State& st);
  std::vector<std::vector<int64_t>> epoch_order(int64_t epoch) const;
  template <typename Line>
  void append_metrics(const Line& line, State& st);

  TrainerSettings s_;
  TrainerHooks hooks_;
  std::vector<std::string> names_;
  std::vector<mx::array> params_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<MetricsWriter> metrics_;
};

// The data order of an epoch: a permutation of [0, n) from seed + epoch, cut into micro-batches.
std::vector<std::vector<int64_t>> shuffled_micro_batches(int64_t n, int batch_size, uint64_t seed,
                                                         int64_t epoch);

}  // namespace mlxft
