// The trainer's resumable state and its state.json codec.
//
// Contract:
// - TrainerState holds everything a checkpoint must carry to resume bit-identically (step, epoch,
//   position in the epoch, best eval loss and step, early-stopping and NaN counters, metrics line
//   count, trained tokens, elapsed time, the open logging window) plus run-local fields that are
//   not saved (last evaluation, last checkpoint).
// - to_json() writes state.json (format 1, with the run's seed and config hash); from_json() reads
//   it back and throws nlohmann::json exceptions on a missing or mistyped field.
// - config_hash() is FNV-1a (util/hash.h) of the effective config text, as 16 hex digits; a resume
//   compares it with the checkpoint's to warn about a changed config.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "mlxft/objective/eval_result.h"
#include "mlxft/train/step.h"

namespace mlxft {

struct TrainerState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t position = 0;  // next micro-batch of the epoch
  std::optional<double> best_loss;
  std::optional<int64_t> best_step;
  int evals_without_improvement = 0;
  int consecutive_skips = 0;
  int64_t metrics_lines = 0;
  int64_t trained_tokens = 0;
  double elapsed_s = 0.0;  // training time before this process
  // logging window since the last train line
  double window_nll = 0.0;
  int64_t window_tokens = 0;
  double window_norm = 0.0;
  int64_t window_steps = 0;
  double window_seconds = 0.0;
  double window_weight = 0.0;                         // loss weights (= tokens for SFT)
  std::map<std::string, MetricTotal> window_metrics;  // objective metrics (KTO)

  // not saved
  std::optional<EvalResult> last_eval;
  int64_t last_eval_step = -1;
  int64_t last_save_step = -1;
  std::filesystem::path last_checkpoint;

  nlohmann::json to_json(uint64_t seed, const std::string& config_hash) const;
  void from_json(const nlohmann::json& j);  // also sets last_save_step = step
};

std::string config_hash(const std::string& config_yaml);

}  // namespace mlxft
