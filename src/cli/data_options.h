// The data options shared by the subcommands that read a JSONL file (`mlxft
// eval`, and `mlxft data` can use them too): --format, --tool-format,
// --labels, --max-seq-length, --truncate, --max-bad-fraction, --min-examples, --chat-format,
// --tools FILE (a tool catalogue offered to records without tools, data/tool_catalogue.h) and
// --tools-per-prompt N.
//
// Contract: add_data_options() binds the flags to `args` (whose current
// values are the defaults shown in --help); resolve_data_options() turns the
// parsed strings into DataOptions. The flag values are checked by CLI11 against
// the name tables of data/options.h (recipes use the same tables); --format
// accepts "claude" for "conversations", as recipes do. --chat-format (auto or a name from
// chat/chat_format.h) is kept as a string: it is resolved with the model (chat/model_format.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "mlxft/data/options.h"

namespace mlxft::cli {

struct DataFlags {
  std::string tool_format = "native", labels = "desirable", truncate = "drop";
  std::string chat_format = "auto";
  std::string tools;  // "" : no catalogue
  DataOptions options;
};

void add_data_options(CLI::App* cmd, DataFlags& args);
// --chat-format alone (generate has no other data flag).
void add_chat_format_option(CLI::App* cmd, std::string& chat_format);
DataOptions resolve_data_options(const DataFlags& args);

}  // namespace mlxft::cli
