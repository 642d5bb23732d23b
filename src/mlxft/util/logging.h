// Where a run's messages and metrics go: the console, an optional log file, and the metrics file.
//
// Contract: setup_logging() makes the default spdlog logger (the program's only global state)
// write to stderr and, when a path is given, append to that file too (plain text with timestamps);
// an unknown level or an unwritable file is a Config / Io error. MetricsWriter appends one JSON
// object per line to <output_dir>/metrics.jsonl, flushing each line so a crash loses at most the
// line being written (appending after a torn last line starts a new line). The lines:
//   {"type": "train", "step", "epoch", "train/loss", "train/learning_rate", "train/gradient_norm",
//    "train/tokens_per_second", "train/trained_tokens", "system/memory_gb", "system/peak_memory_gb",
//    "time_s"}
//   {"type": "eval", "step", "epoch", "eval/loss", "eval/perplexity", "eval/tokens", "best"}
//   {"type": "skip", "step", "reason"}
// step is the optimizer step (1-based, after the update); epoch the fractional epochs completed.
// report/metrics.h reads the file back.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace mlxft {

// level: trace | debug | info | warn | error.
void setup_logging(const std::string& level, const std::filesystem::path& log_file = {});

// One training line, written every logging_steps optimizer steps.
struct TrainMetrics {
  int64_t step = 0;    // optimizer step, 1-based, after the update
  double epoch = 0.0;  // fractional epochs completed
  double loss = 0.0;   // mean loss per target token since the previous line
  double learning_rate = 0.0;
  double gradient_norm = 0.0;  // before clipping
  double tokens_per_second = 0.0;
  int64_t trained_tokens = 0;  // target tokens so far
  double memory_gb = 0.0;
  double peak_memory_gb = 0.0;
  double time_s = 0.0;  // since the start of the run
};

// One evaluation line.
struct EvalMetrics {
  int64_t step = 0;
  double epoch = 0.0;
  double loss = 0.0;  // token-weighted mean over the validation set
  double perplexity = 0.0;
  int64_t tokens = 0;
  bool best = false;  // lowest validation loss so far
};

// An optimizer step that was skipped (non-finite loss or gradient).
struct SkipMetrics {
  int64_t step = 0;
  std::string reason;
};

class MetricsWriter {
 public:
  // append = false starts a new file; true continues one (resume). Io error if it cannot be opened.
  MetricsWriter(const std::filesystem::path& path, bool append);
  void write(const TrainMetrics& m);
  void write(const EvalMetrics& m);
  void write(const SkipMetrics& m);
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_line(const std::string& json);
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace mlxft
