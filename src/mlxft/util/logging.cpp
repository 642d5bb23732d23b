#include "mlxft/util/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

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

}  // namespace mlxft
