// `mlxft report --run DIR [--format png|svg] [--no-plots]`: (re)builds the plots and report.html of
// a training run from its metrics file, effective config and data summary.
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "mlxft/report/run_report.h"

namespace mlxft::cli {
namespace {

struct ReportOptions {
  std::string run_dir;
  std::string format;  // "" = the run's logging.plot_format
  bool no_plots = false;
};

void run_report(const ReportOptions& options) {
  RunReportOptions report_options = run_report_options(options.run_dir);
  if (!options.format.empty()) {  // asking for a format asks for plots, whatever the run's logging.plots
    report_options.plot_format = options.format;
    report_options.plots = true;
  }
  if (options.no_plots) report_options.plots = false;
  const RunReport report = build_run_report(options.run_dir, report_options);
  for (const auto& plot : report.plots) std::cout << plot.string() << "\n";
  std::cout << report.html.string() << "\n";
}

}  // namespace

void add_report_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto options = std::make_shared<ReportOptions>();
  auto* report = app.add_subcommand("report", "Rebuild the plots and report.html of a training run");
  report->add_option("--run", options->run_dir, "Run directory (the recipe's output.output_dir)")->required();
  report
      ->add_option("--format", options->format,
                   "Plot format; draws plots even when the run's logging.plots is false (default: the run's "
                   "logging.plot_format)")
      ->check(CLI::IsMember({"png", "svg"}));
  report->add_flag("--no-plots", options->no_plots, "Write report.html without plots");
  report->callback([options] { run_report(*options); });
}

}  // namespace mlxft::cli
