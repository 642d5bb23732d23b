// The TensorBoard metrics sink (logging.tensorboard, `mlxft train --tensorboard`): every scalar of
// metrics.jsonl as TensorBoard event files under <output_dir>/tensorboard/.
//
// Contract:
// - TensorBoardSink(dir) writes nothing until the first record or on_resume(). A fresh run's first
//   record removes the events.out.tfevents.* files an earlier run left in `dir` (metrics.jsonl is
//   started anew the same way) and opens a new file whose first event is file_version
//   "brain.Event:2".
// - Each metrics line becomes one event, step = the optimizer step, wall_time = now, one scalar per
//   number of the line, tagged by its metrics.jsonl key: train lines train/loss,
//   train/learning_rate, train/gradient_norm, train/tokens_per_second, train/trained_tokens,
//   system/memory_gb, system/peak_memory_gb, time_s, train/epoch and train/<objective metric>;
//   eval lines eval/loss, eval/perplexity, eval/tokens, eval/epoch, eval/best (0 or 1) and
//   eval/<extra metric>; skip lines train/skipped = 1. Each event is flushed when written.
// - on_resume(s): the existing event files keep only their events of steps <= s (rewritten
//   atomically when something goes: the lost steps a crash left, a torn last record), and the
//   records that follow go to a new file named to sort after them, so TensorBoard's reader sees
//   one value per tag and step, as read_metrics() sees metrics.jsonl.
// - Event files are AppendFiles (util/append_file.h: the durable-write fault seam sees each event).
//   Failures to write are Io errors naming the file and the errno (the trainer turns them into a
//   warning: TensorBoard must not stop a run).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "mlxft/report/event_file.h"
#include "mlxft/report/metrics.h"
#include "mlxft/util/append_file.h"

namespace mlxft {

class TensorBoardSink final : public MetricsSink {
 public:
  explicit TensorBoardSink(std::filesystem::path dir);
  void on_train(const TrainMetrics& line) override;
  void on_eval(const EvalMetrics& line) override;
  void on_skip(const SkipMetrics& line) override;
  void on_resume(int64_t step) override;
  // The file being written (empty before the first record).
  const std::filesystem::path& path() const { return path_; }

 private:
  void open_new_file();
  void write(int64_t step, std::vector<ScalarValue> scalars);

  std::filesystem::path dir_;
  std::filesystem::path path_;
  std::unique_ptr<AppendFile> out_;
};

// The event files in `dir` (events.out.tfevents.*), in name order, which is the order they were
// written and the order TensorBoard reads them.
std::vector<std::filesystem::path> event_files(const std::filesystem::path& dir);

}  // namespace mlxft
