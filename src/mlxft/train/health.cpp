#include "mlxft/train/health.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mlxft {

std::vector<std::string> HealthMonitor::check(int64_t step, double loss, double norm) {
  std::vector<std::string> out;
  if (norm > limits_.grad_norm_high) {
    out.push_back(fmt::format(
        "step {}: gradient norm {:.3g} above {} (advanced.grad_norm_warning_high): the run may diverge; "
        "consider a lower learning rate",
        step, norm, limits_.grad_norm_high));
  } else if (norm < limits_.grad_norm_low) {
    out.push_back(fmt::format(
        "step {}: gradient norm {:.3g} below {} (advanced.grad_norm_warning_low): nothing is learning", step,
        norm, limits_.grad_norm_low));
  }
  if (logged_losses_.size() == 10 && loss > limits_.loss_rise * logged_losses_.front()) {
    out.push_back(
        fmt::format("step {}: loss {:.4f} is {:.2f}x the loss 10 logs ago (advanced.loss_rise_warning {})",
                    step, loss, loss / logged_losses_.front(), limits_.loss_rise));
  }
  logged_losses_.push_back(loss);
  if (logged_losses_.size() > 10) logged_losses_.pop_front();
  for (const auto& w : out) spdlog::warn("{}", w);
  return out;
}

}  // namespace mlxft
