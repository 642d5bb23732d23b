// The training objective: what the trainer minimises, one micro-batch at a time.
//
// Contract:
// - An Objective maps the trainable parameters (the flat adapter list) and one micro-batch to
//   ObjectiveSums: a loss *sum* with its weight (trained tokens for SFT), which the trainer
//   accumulates over the micro-batches of a step and divides at the end, plus named scalar metric
//   sums that are reported, never differentiated.
// - The same parameters, batch and dropout key give the same sums (dropout is drawn from the key).
// - train/step.h micro_batch_loss() adapts an Objective to the trainer's MicroBatchLoss hook.
// - SFT (objective/sft.h) is the implementation today; a preference objective (KTO) is the next one:
//   it needs whole-batch sequence log-probabilities, a reference pass without the adapter and extra
//   metrics, which is why metrics are named sums and not a fixed struct.
#pragma once

#include <mlx/mlx.h>

#include <map>
#include <string>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/objective/loss.h"

namespace mlxft {

struct ObjectiveSums {
  LossSum loss;                                     // differentiated: loss sum and its weight
  std::map<std::string, mlx::core::array> metrics;  // scalar sums for the logs (may be empty)
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;  // "sft", ...
  virtual ObjectiveSums sums(const std::vector<mlx::core::array>& params, const Batch& batch,
                             const mlx::core::array& dropout_key) const = 0;
};

}  // namespace mlxft
