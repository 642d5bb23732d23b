// Reading a run's metrics.jsonl back (the lines util/logging.h's MetricsWriter writes).
//
// Contract: read_metrics() returns the train, eval and skip lines in file order. A line that is not
// a JSON object of a known type (a torn last line after a crash, a hand edit) is skipped and counted
// in bad_lines, never an error; a missing number reads as NaN. When a resumed run repeats steps,
// the later lines win: a line for step s drops the earlier lines of its type with step >= s. An
// unreadable file is an Io error.
#pragma once

#include <filesystem>
#include <vector>

#include "mlxft/util/logging.h"

namespace mlxft {

struct RunMetrics {
  std::vector<TrainMetrics> train;
  std::vector<EvalMetrics> eval;
  std::vector<SkipMetrics> skips;
  int bad_lines = 0;
};

RunMetrics read_metrics(const std::filesystem::path& path);

}  // namespace mlxft
