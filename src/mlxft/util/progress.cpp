#include "mlxft/util/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace mlxft {
namespace {

constexpr const char* kEraseLine = "\r\033[2K";
constexpr int kBarWidth = 20;

}  // namespace

ProgressMode progress_mode(const std::string& setting, bool is_terminal) {
  if (setting == "bar") return ProgressMode::Bar;
  if (setting == "plain") return ProgressMode::Plain;
  if (setting == "none") return ProgressMode::None;
  return is_terminal ? ProgressMode::Bar : ProgressMode::Plain;
}

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{:02}:{:02}", m, s);
}

ProgressReporter::ProgressReporter(std::ostream& out, ProgressMode mode, int64_t logging_steps)
    : out_(out), mode_(mode), logging_steps_(std::max<int64_t>(1, logging_steps)) {}

std::string ProgressReporter::describe(const ProgressState& s) const {
  const int64_t timed = s.step - s.start_step;  // the steps elapsed_s measured
  const double eta =
      timed > 0 ? s.elapsed_s / static_cast<double>(timed) * static_cast<double>(s.total_steps - s.step)
                : -1.0;
  return fmt::format("loss {:.4f} | lr {:.2e} | {:.0f} tok/s | mem {:.2f} GB | elapsed {} | ETA {}", s.loss,
                     s.learning_rate, s.tokens_per_second, s.memory_gb, format_duration(s.elapsed_s),
                     format_duration(eta));
}

void ProgressReporter::update(const ProgressState& s) {
  const double fraction =
      s.total_steps > 0
          ? std::clamp(static_cast<double>(s.step) / static_cast<double>(s.total_steps), 0.0, 1.0)
          : 0.0;
  if (mode_ == ProgressMode::Bar) {
    const int filled = static_cast<int>(fraction * kBarWidth);
    last_bar_ = fmt::format("epoch {}/{} [{}{}] {}/{} {:3.0f}% | {}", s.epoch, s.num_epochs,
                            std::string(filled, '#'), std::string(kBarWidth - filled, '.'), s.step,
                            s.total_steps, 100.0 * fraction, describe(s));
    out_ << kEraseLine << last_bar_ << std::flush;
  } else if (mode_ == ProgressMode::Plain && (s.step % logging_steps_ == 0 || s.step == s.total_steps)) {
    out_ << fmt::format("epoch {}/{} step {}/{} ({:.0f}%) | {}\n", s.epoch, s.num_epochs, s.step,
                        s.total_steps, 100.0 * fraction, describe(s))
         << std::flush;
  }
}

void ProgressReporter::message(const std::string& line) {
  if (mode_ == ProgressMode::Bar && !last_bar_.empty()) {
    out_ << kEraseLine << line << '\n' << last_bar_ << std::flush;
  } else if (mode_ != ProgressMode::None) {
    out_ << line << '\n' << std::flush;
  }
}

void ProgressReporter::finish() {
  if (mode_ == ProgressMode::Bar && !last_bar_.empty()) out_ << '\n' << std::flush;
  last_bar_.clear();
}

}  // namespace mlxft
