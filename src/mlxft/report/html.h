// The one-page HTML report of a run.
//
// Contract: render_report_html() returns a self-contained page (no external files, no scripts):
// the final numbers (final_numbers()), the data summary, generated samples and the effective config
// given by the caller, and the plots: SVG files inlined, PNG files embedded as base64 data URIs. Every text
// from outside is HTML-escaped. write_report_html() writes it atomically (temp file, rename);
// Io error on failure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mlxft/report/metrics.h"

namespace mlxft {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// A generated answer to a validation prompt (a line of samples.jsonl).
struct GeneratedSample {
  int64_t step = 0;
  std::string prompt;
  std::string generated;
};

struct ReportContent {
  std::string title = "mlxft run";
  KeyValues data_summary;
  std::vector<GeneratedSample> samples;      // shown as given (the caller picks, e.g. the last step's)
  std::string effective_config;              // YAML text; "" = section left out
  std::vector<std::filesystem::path> plots;  // .svg or .png files
};

// The headline numbers of a run: steps, epochs, final train loss, best and last validation loss
// with perplexity, trained tokens, throughput, peak memory, time, skipped steps.
KeyValues final_numbers(const RunMetrics& metrics);

std::string render_report_html(const RunMetrics& metrics, const ReportContent& content);
void write_report_html(const std::filesystem::path& path, const RunMetrics& metrics,
                       const ReportContent& content);

}  // namespace mlxft
