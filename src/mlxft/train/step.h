// One optimizer step: gradient accumulation over micro-batches, then a guarded update.
//
// Contract: accumulate_gradients() runs value_and_grad of the micro-batch loss with respect to the
// flat parameter list for each micro-batch, sums the loss sums, their weights (trained tokens for
// SFT, sequences for KTO), the trained tokens, the metric sums and counts and the gradients of the
// loss *sums*, evaluating after each micro-batch (memory stays that of one), and divides by the
// total weight at the end. So for SFT the result is the gradient of the mean token loss over every
// trained token of the step: 4 micro-batches of 2 give the gradient of 1 batch of 8.
// Data-parallel: `across` (when given) sums the gradient sums and the totals over the ranks before
// the division, so each rank gets the gradient of the mean loss over the global step; a micro-batch
// whose `counts` entry is false is computed (every rank runs the same exchanges) but counts nothing.
// apply_update() clips by global norm and then updates through the optimizer, unless the loss or
// the gradient norm is not finite (or no token was trained): then nothing changes (parameters and
// optimizer state untouched) and the reason is returned. Everything is evaluated on return.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/objective/loss.h"
#include "mlxft/objective/objective.h"
#include "mlxft/train/optimizer.h"

namespace mlxft {

namespace mx = mlx::core;

// The loss sums (and metrics) of one micro-batch as a function of the parameters; `dropout_key` seeds
// its dropout. A function returning a plain LossSum converts.
using MicroBatchLoss = std::function<ObjectiveSums(const std::vector<mx::array>& params, const Batch& batch,
                                                   const mx::array& dropout_key)>;

// The loss of `objective` as a MicroBatchLoss (the objective must outlive the returned function).
MicroBatchLoss micro_batch_loss(const Objective& objective);

// A metric over a step or a logging window: shown as sum / count.
struct MetricTotal {
  double sum = 0.0;
  double count = 0.0;
};

struct Gradients {
  std::vector<mx::array> grads;  // of the mean loss (loss sum / weight)
  double loss = 0.0;             // mean loss of the step
  int64_t tokens = 0;            // trained tokens of the step
  double weight = 0.0;           // the loss denominator (= tokens for SFT)
  std::map<std::string, MetricTotal> metrics;
};

// Sums a step's gradient sums and totals across data-parallel ranks in place. totals: the loss sum,
// the weight, the trained tokens, then each metric's sum and count in name order.
using SumAcrossRanks = std::function<void(std::vector<mx::array>& grad_sums, std::vector<double>& totals)>;

// dropout_keys[i] goes with micro_batches[i]; counts[i] == false makes micro-batch i count nothing
// (empty counts: all count).
Gradients accumulate_gradients(const MicroBatchLoss& loss_fn, const std::vector<mx::array>& params,
                               const std::vector<Batch>& micro_batches,
                               const std::vector<mx::array>& dropout_keys,
                               const std::vector<bool>& counts = {}, const SumAcrossRanks& across = nullptr);

// The dropout key of micro-batch `micro` of optimizer step `step` (1-based) of a run seeded `seed`:
// a pure function of the three, so a resumed run draws the same masks.
mx::array dropout_key(uint64_t seed, int64_t step, int micro);

struct UpdateResult {
  bool applied = false;
  std::string skip_reason;  // "nan loss", "inf gradient norm", ... when not applied
  double grad_norm = 0.0;   // before clipping
};

UpdateResult apply_update(std::vector<mx::array>& params, Optimizer& optimizer, const Gradients& g, double lr,
                          double max_grad_norm);

}  // namespace mlxft
