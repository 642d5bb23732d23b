// Where a run's messages go: the console and an optional log file (metrics: report/metrics.h).
//
// Contract: setup_logging() makes the default spdlog logger (the program's only global state)
// write to stderr and, when a path is given, append to that file too (plain text with timestamps);
// an unknown level or an unwritable file is a Config / Io error.
#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

namespace mlxft {

// level: trace | debug | info | warn | error.
void setup_logging(const std::string& level, const std::filesystem::path& log_file = {});

}  // namespace mlxft
