// The training objective: what the trainer minimises, one micro-batch at a time.
//
// Contract:
// - An Objective maps the trainable parameters (the flat adapter list) and one micro-batch to
//   ObjectiveSums: a loss *sum* with its weight (trained tokens for SFT), which the trainer
//   accumulates over the micro-batches of a step and divides at the end, plus named scalar metric
//   sums that are reported, never differentiated.
// - The same parameters, batch and dropout key give the same sums (dropout is drawn from the key).
// - train/step.h micro_batch_loss() adapts an Objective to the trainer's MicroBatchLoss hook.
// - trained_tokens counts the tokens the micro-batch trained on (throughput and trained_tokens in the
//   logs); when absent it is the loss weight (SFT: they are the same).
// - Metrics are named (sum, count) pairs: the logs show sum / count over the logging window.
// - evaluate(loss_over, valid) is the validation result the trainer tracks (best checkpoint, early
//   stopping). loss_over(examples) is the token-weighted loss of the model being trained over a set
//   (eval/evaluate.h, bound by the caller to the adapters and batch size: eval/ sits above
//   objective/); the objective picks the sets and how they combine.
// - SFT (objective/sft.h) and KTO (objective/kto.h) implement it; make_objective.h picks one.
#pragma once

#include <mlx/mlx.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/objective/eval_result.h"
#include "mlxft/objective/loss.h"

namespace mlxft {

struct MetricSum {
  mlx::core::array sum;
  mlx::core::array count;
};

struct ObjectiveSums {
  ObjectiveSums(LossSum l, std::map<std::string, MetricSum> m = {},
                std::optional<mlx::core::array> tokens = std::nullopt)
      : loss(std::move(l)), metrics(std::move(m)), trained_tokens(std::move(tokens)) {}
  LossSum loss;                              // differentiated: loss sum and its weight
  std::map<std::string, MetricSum> metrics;  // scalar sums for the logs (may be empty), never differentiated
  std::optional<mlx::core::array> trained_tokens;  // absent: loss.tokens
};

// The token-weighted loss of the model being trained over a set of examples.
using SetLoss = std::function<EvalResult(const std::vector<Example>& examples)>;

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;  // "sft", ...
  virtual ObjectiveSums sums(const std::vector<mlx::core::array>& params, const Batch& batch,
                             const mlx::core::array& dropout_key) const = 0;
  virtual EvalResult evaluate(const SetLoss& loss_over, const std::vector<Example>& valid) const = 0;
};

}  // namespace mlxft
