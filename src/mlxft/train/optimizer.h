// Optimizers over a flat list of float32 parameters (LoraAdapters::flatten() order).
//
// Contract: update(params, grads, lr) returns the new parameters and advances the optimizer's
// state by one step; params, grads and state are float32 and keep their shapes. The state can be
// saved and restored exactly (state() / load_state(), keys "m.<i>", "v.<i>", "momentum.<i>" with
// <i> the parameter index, plus "step" as an int64 scalar), so a resumed run continues bit for bit.
//   AdamW (PyTorch's torch.optim.AdamW): t += 1; p <- p (1 - lr wd);
//     m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
//     p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
//   SGD (PyTorch's torch.optim.SGD, dampening 0): d = g + wd p; with momentum mu > 0,
//     buf <- mu buf + d (buf = d on the first step) and d = buf; p <- p - lr d.
// load_state() rejects a state for other shapes or another optimizer with a Checkpoint error.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlxft {

namespace mx = mlx::core;

struct OptimizerConfig {
  std::string kind = "adamw";  // adamw | sgd
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double momentum = 0.0;  // SGD only
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::vector<mx::array> update(const std::vector<mx::array>& params,
                                        const std::vector<mx::array>& grads, double lr) = 0;
  virtual std::map<std::string, mx::array> state() const = 0;
  virtual void load_state(const std::map<std::string, mx::array>& state, const std::vector<mx::array>& params,
                          const std::string& source) = 0;
  // The state arrays (to mx::eval them together with the parameters).
  virtual std::vector<mx::array> state_arrays() const = 0;
  int64_t steps() const { return steps_; }

 protected:
  int64_t steps_ = 0;
};

// Throws Config error (training.optimizer) for an unknown kind.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config);

}  // namespace mlxft
