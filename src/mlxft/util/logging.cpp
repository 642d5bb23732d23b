#include "mlxft/util/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include "mlxft/util/append_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

// The log file: each message one append through the durable-write fault seam. A failed append (disk
// full) is reported once on stderr and the file is dropped: the log goes on on the console.
class LogFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogFileSink(const fs::path& path) : file_(std::make_unique<AppendFile>(path, AppendFile::Mode::Append)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!file_) return;
    spdlog::memory_buf_t text;
    formatter_->format(msg, text);
    try {
      file_->append(std::string_view(text.data(), text.size()));
    } catch (const Error& e) {  // not through spdlog: this sink is inside it
      std::fprintf(stderr, "warning: %s: %s; the log goes on on the console only (the run goes on)\n",
                   e.where().c_str(), e.detail().c_str());
      file_.reset();
    }
  }
  void flush_() override {}

 private:
  std::unique_ptr<AppendFile> file_;
};

}  // namespace

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
      auto file = std::make_shared<LogFileSink>(log_file);
      file->set_pattern("%Y-%m-%d %H:%M:%S.%e %l: %v");
      sinks.push_back(file);
    } catch (const Error& e) {
      throw Error(ErrorKind::Io, log_file.string(), "cannot open the log file: " + e.detail(),
                  "check that output.output_dir is writable, or set logging.log_file: null");
    }
  }
  auto logger = std::make_shared<spdlog::logger>("mlxft", sinks.begin(), sinks.end());
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace mlxft
