// Plots of a run's metrics, drawn by gnuplot (Debian's gnuplot-nox) run as a subprocess.
//
// Contract: write_plots() writes into `dir` loss.<fmt> (train loss and validation loss vs step),
// learning_rate.<fmt>, gradient_norm.<fmt>, memory.<fmt> (memory and peak memory vs step), when
// eval lines carry tool-call metrics tool_calls.<fmt> (eval/tool_name_accuracy,
// eval/tool_arguments_exact and eval/tool_arguments_match vs step, the step-0 baseline included),
// and for a KTO run (train lines
// with a "kl" metric) kto.<fmt> (rewards of desirable and undesirable examples, their margin and the
// KL reference point vs step; the loss plot then also shows the validation loss of the undesirable
// examples), each
// drawn to a temporary name and renamed when gnuplot succeeds, and returns the files written. With
// no train lines there is nothing to plot. When gnuplot is missing or fails it logs a warning and
// returns what it has; it never throws for that, nor when a file cannot be written (disk full: a
// warning, util/durable_file.h tolerate_write_failure): plots must not fail a run. The data files,
// the script and the publishing of each plot go through the durable-write fault seam.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mlxft/report/metrics.h"

namespace mlxft {

struct PlotOptions {
  std::string format = "png";       // png | svg
  std::string gnuplot = "gnuplot";  // program name (searched in PATH) or path
};

std::vector<std::filesystem::path> write_plots(const RunMetrics& metrics, const std::filesystem::path& dir,
                                               const PlotOptions& options = {});

// The program's full path: `name` itself when it contains a '/', else the first executable match
// in PATH; "" when not found.
std::filesystem::path find_program(const std::string& name);

}  // namespace mlxft
