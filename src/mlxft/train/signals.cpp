#include "mlxft/train/signals.h"

namespace mlxft {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void record_signal(int sig) {
  g_stop_signal = sig;
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

bool StopSignals::requested() const {
  return g_stop_signal != 0;
}

int StopSignals::signal_number() const {
  return static_cast<int>(g_stop_signal);
}

}  // namespace mlxft
