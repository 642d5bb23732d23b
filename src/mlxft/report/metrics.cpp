#include "mlxft/report/metrics.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

double EvalMetrics::extra_value(const std::string& name) const {
  for (const auto& [key, value] : extra)
    if (key == name) return value;
  return std::numeric_limits<double>::quiet_NaN();
}

MetricsWriter::MetricsWriter(const fs::path& path, bool append) : path_(path) {
  const bool needs_newline = append && ends_without_newline(path);
  out_ = std::make_unique<AppendFile>(path, append ? AppendFile::Mode::Append : AppendFile::Mode::Truncate);
  if (needs_newline) out_->append("\n");
}

void MetricsWriter::write(const TrainMetrics& m) {
  nlohmann::ordered_json j = {{"type", "train"},
                              {"step", m.step},
                              {"epoch", m.epoch},
                              {"train/loss", m.loss},
                              {"train/learning_rate", m.learning_rate},
                              {"train/gradient_norm", m.gradient_norm},
                              {"train/tokens_per_second", m.tokens_per_second},
                              {"train/trained_tokens", m.trained_tokens},
                              {"system/memory_gb", m.memory_gb},
                              {"system/peak_memory_gb", m.peak_memory_gb},
                              {"time_s", m.time_s}};
  for (const auto& [name, v] : m.extra) j["train/" + name] = v;
  write_line(j.dump());
}

void MetricsWriter::write(const EvalMetrics& m) {
  nlohmann::ordered_json j = {{"type", "eval"},
                              {"step", m.step},
                              {"epoch", m.epoch},
                              {"eval/loss", m.loss},
                              {"eval/perplexity", m.perplexity},
                              {"eval/tokens", m.tokens},
                              {"best", m.best}};
  for (const auto& [name, v] : m.extra) j["eval/" + name] = v;
  write_line(j.dump());
}

void MetricsWriter::write(const SkipMetrics& m) {
  const nlohmann::ordered_json j = {{"type", "skip"}, {"step", m.step}, {"reason", m.reason}};
  write_line(j.dump());
}

void MetricsWriter::write_line(const std::string& json) {
  out_->append(json + '\n');
}

namespace {

double number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return (it != j.end() && it->is_number()) ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

int64_t integer(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return (it != j.end() && it->is_number()) ? it->get<int64_t>() : 0;
}

bool flag(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string text_of(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

// The "<prefix><name>" numbers that are not the line's own fields: an objective's metrics.
std::map<std::string, double> extra_metrics(const nlohmann::json& j, const std::string& prefix) {
  static const std::set<std::string> own = {
      "train/loss",           "train/learning_rate", "train/gradient_norm", "train/tokens_per_second",
      "train/trained_tokens", "eval/loss",           "eval/perplexity",     "eval/tokens"};
  std::map<std::string, double> extra;
  for (const auto& [key, v] : j.items()) {
    if (key.rfind(prefix, 0) == 0 && !own.count(key) && v.is_number())
      extra[key.substr(prefix.size())] = v.get<double>();
  }
  return extra;
}

// Appends `line`, first dropping the earlier lines it supersedes (same or later step: a resumed run).
template <class Line>
void append(std::vector<Line>& lines, Line line) {
  while (!lines.empty() && lines.back().step >= line.step) lines.pop_back();
  lines.push_back(std::move(line));
}

}  // namespace

RunMetrics read_metrics(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorKind::Io, path.string(), "cannot read the metrics file", "is this a run directory?");
  RunMetrics metrics;
  for (std::string text; std::getline(in, text);) {
    if (text.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    const std::string type =
        (j.is_object() && j.contains("type") && j["type"].is_string()) ? j["type"].get<std::string>() : "";
    if (type == "train" && j.contains("step")) {
      append(metrics.train, TrainMetrics{.step = integer(j, "step"),
                                         .epoch = number(j, "epoch"),
                                         .loss = number(j, "train/loss"),
                                         .learning_rate = number(j, "train/learning_rate"),
                                         .gradient_norm = number(j, "train/gradient_norm"),
                                         .tokens_per_second = number(j, "train/tokens_per_second"),
                                         .trained_tokens = integer(j, "train/trained_tokens"),
                                         .memory_gb = number(j, "system/memory_gb"),
                                         .peak_memory_gb = number(j, "system/peak_memory_gb"),
                                         .time_s = number(j, "time_s"),
                                         .extra = extra_metrics(j, "train/")});
    } else if (type == "eval" && j.contains("step")) {
      append(metrics.eval, EvalMetrics{.step = integer(j, "step"),
                                       .epoch = number(j, "epoch"),
                                       .loss = number(j, "eval/loss"),
                                       .perplexity = number(j, "eval/perplexity"),
                                       .tokens = integer(j, "eval/tokens"),
                                       .best = flag(j, "best"),
                                       .extra = extra_metrics(j, "eval/")});
    } else if (type == "skip" && j.contains("step")) {
      append(metrics.skips, SkipMetrics{.step = integer(j, "step"), .reason = text_of(j, "reason")});
    } else {
      ++metrics.bad_lines;
    }
  }
  return metrics;
}

}  // namespace mlxft
