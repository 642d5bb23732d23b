#include "mlxft/report/run_report.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/config/load.h"
#include "mlxft/report/plots.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

RunReport build_run_report(const fs::path& run_dir, const RunReportOptions& options) {
  RunReport report;
  report.metrics = read_metrics(run_dir / options.metrics_file);
  if (report.metrics.bad_lines > 0) {
    spdlog::warn("{}: skipped {} unreadable line(s) (a torn last line after a crash is normal)",
                 (run_dir / options.metrics_file).string(), report.metrics.bad_lines);
  }
  if (options.plots) {
    report.plots = write_plots(report.metrics, run_dir, PlotOptions{options.plot_format, options.gnuplot});
  }
  ReportContent content = options.content;
  content.plots = report.plots;
  report.html = run_dir / "report.html";
  write_report_html(report.html, report.metrics, content);
  return report;
}

RunReportOptions run_report_options(const fs::path& run_dir) {
  if (!fs::is_directory(run_dir)) {
    throw Error(ErrorKind::Usage, run_dir.string(), "not a directory",
                "pass the output_dir of a training run");
  }
  RunReportOptions options;
  options.content.title = "mlxft run: " + fs::absolute(run_dir).lexically_normal().filename().string();
  const fs::path config_file = run_dir / "effective_config.yaml";
  if (fs::exists(config_file)) {
    const Recipe recipe = load_recipe(config_file);
    options.metrics_file = recipe.logging.jsonl;
    options.plots = recipe.logging.plots;
    options.plot_format = recipe.logging.plot_format;
    const std::string model =
        recipe.model.name.empty() ? fs::path(recipe.model.path).filename().string() : recipe.model.name;
    options.content.title = "mlxft run: " + model;
    options.content.effective_config = recipe_to_yaml(recipe);
  }
  const fs::path summary_file = run_dir / "data_summary.json";
  if (fs::exists(summary_file)) {
    std::ifstream in(summary_file);
    const nlohmann::ordered_json summary =
        nlohmann::ordered_json::parse(in, nullptr, false);  // keeps row order
    if (!summary.is_object()) {
      spdlog::warn("{}: not a JSON object; the report leaves out the data summary", summary_file.string());
    } else {
      for (const auto& [key, value] : summary.items()) {
        options.content.data_summary.emplace_back(
            key, value.is_string() ? value.get<std::string>() : value.dump());
      }
    }
  }
  const fs::path samples_file = run_dir / "samples.jsonl";
  if (fs::exists(samples_file)) {
    std::ifstream in(samples_file);
    std::vector<GeneratedSample>& samples = options.content.samples;
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
      const auto text = [&j](const char* key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
      };
      const GeneratedSample sample{j["step"].get<int64_t>(), text("prompt"), text("generated")};
      if (!samples.empty() && sample.step > samples.front().step) samples.clear();
      if (samples.empty() || sample.step == samples.front().step) samples.push_back(sample);
    }
  }
  return options;
}

}  // namespace mlxft
