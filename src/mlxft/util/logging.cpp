#include "mlxft/util/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

void setup_logging(const std::string& level, const fs::path& log_file) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw Error(ErrorKind::Config, "logging.level", "unknown level '" + level + "'",
                "use one of: trace, debug, info, warn, error");
  }
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%^%l%$: %v");
  sinks.push_back(console);
  if (!log_file.empty()) {
    try {
      auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file.string(), false);
      file->set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
      sinks.push_back(file);
    } catch (const spdlog::spdlog_ex& e) {
      throw Error(ErrorKind::Io, log_file.string(), std::string("cannot open the log file: ") + e.what(),
                  "check that output.output_dir is writable, or set logging.log_file: null");
    }
  }
  auto logger = std::make_shared<spdlog::logger>("mlxft", sinks.begin(), sinks.end());
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

MetricsWriter::MetricsWriter(const fs::path& path, bool append) : path_(path) {
  bool needs_newline = false;
  if (append && fs::exists(path) && fs::file_size(path) > 0) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(-1, std::ios::end);
    needs_newline = in.get() != '\n';
  }
  out_.open(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  if (!out_) {
    throw Error(ErrorKind::Io, path.string(), "cannot open the metrics file for writing",
                "check that output.output_dir is writable");
  }
  if (needs_newline) out_ << '\n';
}

void MetricsWriter::write(const TrainMetrics& m) {
  const nlohmann::ordered_json j = {{"type", "train"},
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
  write_line(j.dump());
}

void MetricsWriter::write(const EvalMetrics& m) {
  const nlohmann::ordered_json j = {{"type", "eval"},
                                    {"step", m.step},
                                    {"epoch", m.epoch},
                                    {"eval/loss", m.loss},
                                    {"eval/perplexity", m.perplexity},
                                    {"eval/tokens", m.tokens},
                                    {"best", m.best}};
  write_line(j.dump());
}

void MetricsWriter::write(const SkipMetrics& m) {
  const nlohmann::ordered_json j = {{"type", "skip"}, {"step", m.step}, {"reason", m.reason}};
  write_line(j.dump());
}

void MetricsWriter::write_line(const std::string& json) {
  out_ << json << '\n';
  out_.flush();
  if (!out_)
    throw Error(ErrorKind::Io, path_.string(), "cannot append to the metrics file", "is the disk full?");
}

}  // namespace mlxft
