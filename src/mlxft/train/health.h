// Training health warnings: logged, never fatal.
//
// Contract: HealthMonitor::check(step, loss, grad_norm) is called with every logged train line.
// - It warns when the gradient norm is above grad_norm_warning_high (the run may diverge) or below
//   grad_norm_warning_low (nothing is learning).
// - It warns when the loss is above loss_rise_warning times the loss logged 10 lines earlier.
// - It returns the warnings it logged (for tests); it keeps only the last 10 losses.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace mlxft {

struct HealthLimits {
  double loss_rise = 1.5;
  double grad_norm_high = 10.0;
  double grad_norm_low = 1e-6;
};

class HealthMonitor {
 public:
  explicit HealthMonitor(HealthLimits limits) : limits_(limits) {}
  std::vector<std::string> check(int64_t step, double loss, double grad_norm);

 private:
  HealthLimits limits_;
  std::deque<double> logged_losses_;  // the last 10 logged losses
};

}  // namespace mlxft
