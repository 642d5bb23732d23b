// A run's metrics records: the sink interface the trainer feeds, the metrics.jsonl writer (one sink)
// and the reader the report uses, one module.
//
// Contract:
// - MetricsSink receives a run's records in order: train, eval and skip lines (the structs below),
//   on rank 0 only. A sink overrides the records it wants (the others do nothing). When a run
//   resumes after optimizer step s, on_resume(s) comes before any record, and the records of the
//   steps after s come again. A new sink (TensorBoard, ...) is a class here or beside its user plus
//   one line where the sinks are assembled (TrainerHooks::metrics_sinks, train/trainer.h).
// - MetricsWriter (a MetricsSink) appends one JSON object per line, flushing each line so a crash
//   loses at most the line being written (appending after a torn last line starts a new line). The
//   lines:
//     {"type": "train", "step", "epoch", "train/loss", "train/learning_rate", "train/gradient_norm",
//      "train/tokens_per_second", "train/trained_tokens", "system/memory_gb",
//      "system/peak_memory_gb", "time_s", and the objective's metrics "train/<name>" (KTO: kto_loss,
//      kl, rewards_chosen, rewards_rejected, rewards_margin)}
//     {"type": "eval", "step", "epoch", "eval/loss", "eval/perplexity", "eval/tokens", "best", and
//      "eval/<name>" for each extra metric (eval/tool_name_accuracy, ...; KTO: loss_desirable, ...)}
//     {"type": "skip", "step", "reason"}
//   step is the optimizer step (1-based, after the update); epoch the fractional epochs completed.
//   The file is an AppendFile (util/append_file.h: the durable-write fault seam sees each line); an
//   unopenable or unwritable file is an Io error naming it and the errno (the trainer turns it into
//   a warning: metrics must not stop a run).
// - read_metrics() returns the train, eval and skip lines in file order. A line that is not
// a JSON object of a known type (a torn last line after a crash, a hand edit) is skipped and counted
// in bad_lines, never an error; a missing number reads as NaN. When a resumed run repeats steps,
// the later lines win: a line for step s drops the earlier lines of its type with step >= s. An
// unreadable file is an Io error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mlxft/util/append_file.h"

namespace mlxft {

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
  std::map<std::string, double> extra;  // objective metrics, written as "train/<name>" (KTO: kl, ...)
};

// One evaluation line.
struct EvalMetrics {
  int64_t step = 0;
  double epoch = 0.0;
  double loss = 0.0;  // token-weighted mean over the validation set
  double perplexity = 0.0;
  int64_t tokens = 0;
  bool best = false;                    // lowest validation loss so far
  std::map<std::string, double> extra;  // written as "eval/<name>" (tool-call metrics, KTO losses)
  // The extra metric called `name`, NaN when the line has none.
  double extra_value(const std::string& name) const;
};

// An optimizer step that was skipped (non-finite loss or gradient).
struct SkipMetrics {
  int64_t step = 0;
  std::string reason;
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void on_train(const TrainMetrics& /*line*/) {}
  virtual void on_eval(const EvalMetrics& /*line*/) {}
  virtual void on_skip(const SkipMetrics& /*line*/) {}
  virtual void on_resume(int64_t /*step*/) {}
};

class MetricsWriter final : public MetricsSink {
 public:
  // append = false starts a new file; true continues one (resume: the trainer cuts it back to the
  // checkpoint's lines first). Io error if it cannot be opened.
  MetricsWriter(const std::filesystem::path& path, bool append);
  void write(const TrainMetrics& m);
  void write(const EvalMetrics& m);
  void write(const SkipMetrics& m);
  void on_train(const TrainMetrics& m) override { write(m); }
  void on_eval(const EvalMetrics& m) override { write(m); }
  void on_skip(const SkipMetrics& m) override { write(m); }
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_line(const std::string& json);
  std::filesystem::path path_;
  std::unique_ptr<AppendFile> out_;
};

struct RunMetrics {
  std::vector<TrainMetrics> train;
  std::vector<EvalMetrics> eval;
  std::vector<SkipMetrics> skips;
  int bad_lines = 0;
};

RunMetrics read_metrics(const std::filesystem::path& path);

}  // namespace mlxft
