// Plots and report.html of a run directory, from its metrics file.
//
// Contract: build_run_report() reads <run_dir>/<metrics_file>, writes the plots (when enabled;
// skipped with a warning when gnuplot is missing) and <run_dir>/report.html, and returns what it
// wrote. The trainer calls it during and after training; `mlxft report --run DIR` calls it with
// run_report_options(DIR), which takes what the run left behind: effective_config.yaml (metrics
// file name, plot settings, model name; the config text is shown in the report) and
// data_summary.json (a flat JSON object of name -> value, shown as the data summary) and
// samples.jsonl ({"step", "prompt", "generated"} lines; those of the last step are shown), each
// optional; unreadable lines are skipped.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mlxft/report/html.h"
#include "mlxft/report/metrics.h"

namespace mlxft {

struct RunReportOptions {
  std::string metrics_file = "metrics.jsonl";
  bool plots = true;
  std::string plot_format = "png";
  std::string gnuplot = "gnuplot";
  ReportContent content;  // title, data summary, effective config (plots are filled in)
};

struct RunReport {
  std::filesystem::path html;
  std::vector<std::filesystem::path> plots;
  RunMetrics metrics;
};

RunReport build_run_report(const std::filesystem::path& run_dir, const RunReportOptions& options);
RunReportOptions run_report_options(const std::filesystem::path& run_dir);

}  // namespace mlxft
