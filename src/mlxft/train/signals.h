// Graceful stop on SIGINT / SIGTERM for the training loop.
//
// Contract: while a StopSignals object lives, the first SIGINT or SIGTERM only records the signal
// (the trainer polls requested() between optimizer steps, writes a checkpoint and exits); the
// handler is installed with SA_RESETHAND, so a second signal of the same kind terminates the
// process at once. The destructor restores the previous handlers. The recorded signal lives in a
// process-wide sig_atomic_t: a signal handler can reach nothing else.
#pragma once

#include <csignal>

namespace mlxft {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool requested() const;
  int signal_number() const;  // 0 when none arrived
  // Exit status for a run stopped by the recorded signal: 128 + signal (130 SIGINT, 143 SIGTERM).
  int exit_code() const { return 128 + signal_number(); }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace mlxft
