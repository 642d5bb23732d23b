// Where a run's messages go: the console and an optional log file (metrics: report/metrics.h).
//
// Contract: setup_logging() makes the default spdlog logger (the program's only global state)
// write to stderr and, when a path is given, append to that file too (plain text with timestamps);
// an unknown level or a log file that cannot be opened is a Config / Io error. The file is an
// AppendFile (util/append_file.h, the durable-write fault seam sees each message); when an append
// fails (disk full) one warning goes to stderr and the log continues on the console only.
#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

namespace mlxft {

// level: trace | debug | info | warn | error.
void setup_logging(const std::string& level, const std::filesystem::path& log_file = {});

}  // namespace mlxft
