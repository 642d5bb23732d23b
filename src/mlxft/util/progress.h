// Training progress on the console.
//
// Contract: in Bar mode (a terminal) update() redraws one line in place ("\r" + erase line):
// epoch, step/total with a bar and percentage, loss, learning rate, tokens/s, memory and ETA;
// message() prints a line above the bar without breaking it; finish() ends the bar line. In Plain
// mode (a pipe or a file) update() prints one full line per logging step (and at the last step),
// never control characters. None prints nothing. The stream and the terminal flag are injected.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace mlxft {

struct ProgressState {
  int epoch = 1;  // 1-based, current
  int num_epochs = 1;
  int64_t step = 0;  // optimizer steps done
  int64_t total_steps = 0;
  double loss = 0.0;
  double learning_rate = 0.0;
  double tokens_per_second = 0.0;
  double memory_gb = 0.0;
  double elapsed_s = 0.0;  // since this process started training
  int64_t start_step = 0;  // the step training (re)started from (resume), for the ETA
};

enum class ProgressMode { Bar, Plain, None };

// logging.progress (auto | bar | plain | none) -> mode; auto is Bar on a terminal, else Plain.
ProgressMode progress_mode(const std::string& setting, bool is_terminal);
// Whether stderr is a terminal.
bool stderr_is_terminal();
// "1:02:03" or "02:03"; "--:--" when unknown (negative or not finite).
std::string format_duration(double seconds);

class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, ProgressMode mode, int64_t logging_steps);
  void update(const ProgressState& state);
  void message(const std::string& line);
  void finish();

 private:
  std::string describe(const ProgressState& state) const;
  std::ostream& out_;
  ProgressMode mode_;
  int64_t logging_steps_;
  std::string last_bar_;  // the bar line on screen ("" when none)
};

}  // namespace mlxft
