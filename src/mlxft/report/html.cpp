#include "mlxft/report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "mlxft/util/durable_file.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) {
      v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) out.push_back(k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=');
  }
  return out;
}

// The <svg> element of an SVG file (its XML prolog and doctype dropped so it can sit in HTML).
std::string inline_svg(const std::string& svg) {
  const size_t start = svg.find("<svg");
  return start == std::string::npos ? std::string() : svg.substr(start);
}

std::string number(double v, const char* format_spec = "{:.4f}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(format_spec), v) : "n/a";
}

std::string table(const KeyValues& rows) {
  std::string html = "<table>\n";
  for (const auto& [key, value] : rows) {
    html += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", escape(key), escape(value));
  }
  return html + "</table>\n";
}

}  // namespace

KeyValues final_numbers(const RunMetrics& m) {
  KeyValues rows;
  if (!m.train.empty()) {
    const TrainMetrics& last = m.train.back();
    double peak = 0.0;
    for (const auto& t : m.train) {
      if (std::isfinite(t.peak_memory_gb)) peak = std::max(peak, t.peak_memory_gb);
    }
    rows.emplace_back("optimizer steps", std::to_string(last.step));
    rows.emplace_back("epochs", number(last.epoch, "{:.2f}"));
    rows.emplace_back("final train loss", number(last.loss));
    for (const auto& [name, v] : last.extra) rows.emplace_back("final train " + name, number(v));  // KTO
    rows.emplace_back("trained tokens", std::to_string(last.trained_tokens));
    rows.emplace_back("tokens per second (last)", number(last.tokens_per_second, "{:.1f}"));
    rows.emplace_back("peak memory (GB)", number(peak, "{:.2f}"));
    rows.emplace_back("training time (s)", number(last.time_s, "{:.1f}"));
  }
  if (!m.eval.empty()) {
    const auto best =
        std::min_element(m.eval.begin(), m.eval.end(), [](const EvalMetrics& a, const EvalMetrics& b) {
          return std::isfinite(a.loss) && (!std::isfinite(b.loss) || a.loss < b.loss);
        });
    rows.emplace_back("best validation loss", fmt::format("{} (perplexity {}, step {})", number(best->loss),
                                                          number(best->perplexity, "{:.3f}"), best->step));
    rows.emplace_back("last validation loss",
                      fmt::format("{} (perplexity {}, step {})", number(m.eval.back().loss),
                                  number(m.eval.back().perplexity, "{:.3f}"), m.eval.back().step));
    for (const auto& [name, v] : m.eval.back().extra) rows.emplace_back("last validation " + name, number(v));
  }
  rows.emplace_back("skipped steps", std::to_string(m.skips.size()));
  return rows;
}

std::string render_report_html(const RunMetrics& metrics, const ReportContent& content) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<style>\n"
      "body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}\n"
      "table {{ border-collapse: collapse; margin-bottom: 1.5em; }}\n"
      "th, td {{ text-align: left; padding: 0.25em 1em; border-bottom: 1px solid #ddd; }}\n"
      "pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}\n"
      ".plot svg, .plot img {{ max-width: 100%; height: auto; }}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      escape(content.title));
  html += "<h2>Results</h2>\n" + table(final_numbers(metrics));
  if (!content.data_summary.empty()) html += "<h2>Data</h2>\n" + table(content.data_summary);
  if (!content.plots.empty()) html += "<h2>Plots</h2>\n";
  for (const auto& plot : content.plots) {
    const std::string bytes = read_all(plot);
    if (plot.extension() == ".svg") {
      html += "<div class=\"plot\">\n" + inline_svg(bytes) + "\n</div>\n";
    } else {
      html += fmt::format("<div class=\"plot\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></div>\n",
                          escape(plot.stem().string()), base64(bytes));
    }
  }
  if (!content.samples.empty()) {
    html += fmt::format("<h2>Samples (step {})</h2>\n", content.samples.front().step);
    for (const auto& sample : content.samples) {
      html += "<details><summary>prompt</summary><pre>" + escape(sample.prompt) + "</pre></details>\n<pre>" +
              escape(sample.generated) + "</pre>\n";
    }
  }
  if (!metrics.skips.empty()) {
    html += "<h2>Skipped steps</h2>\n<ul>\n";
    for (const auto& s : metrics.skips)
      html += fmt::format("<li>step {}: {}</li>\n", s.step, escape(s.reason));
    html += "</ul>\n";
  }
  if (!content.effective_config.empty()) {
    html += "<h2>Effective config</h2>\n<pre>" + escape(content.effective_config) + "</pre>\n";
  }
  return html + "</body>\n</html>\n";
}

void write_report_html(const fs::path& path, const RunMetrics& metrics, const ReportContent& content) {
  write_file_atomic(path, render_report_html(metrics, content));
}

}  // namespace mlxft
