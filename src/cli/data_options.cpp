#include "cli/data_options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mlxft/chat/chat_format.h"
#include "mlxft/data/tool_catalogue.h"

namespace mlxft::cli {
namespace {

// "Record format: auto|conversations|...", from the one name table of the choice.
std::string names_help(const char* what, const std::vector<std::string>& names) {
  return fmt::format("{}: {}", what, fmt::join(names, "|"));
}

}  // namespace

void add_chat_format_option(CLI::App* cmd, std::string& chat_format) {
  cmd->add_option(
         "--chat-format", chat_format,
         names_help("Chat format (auto: from the model's chat template)", chat_format_choice_names()))
      ->check(CLI::IsMember(chat_format_choice_names()))
      ->capture_default_str();
}

void add_data_options(CLI::App* cmd, DataFlags& a) {
  cmd->add_option("--format", a.options.format, names_help("Record format", data_format_names()))
      ->check(CLI::IsMember(data_format_names()))
      ->capture_default_str();
  cmd->add_option("--tool-format", a.tool_format, names_help("Plain-text tool calls", tool_format_names()))
      ->check(CLI::IsMember(tool_format_names()))
      ->capture_default_str();
  add_chat_format_option(cmd, a.chat_format);
  cmd->add_option("--labels", a.labels, names_help("Examples to use", label_filter_names()))
      ->check(CLI::IsMember(label_filter_names()))
      ->capture_default_str();
  cmd->add_option("--max-seq-length", a.options.max_seq_length, "Longest example in tokens")
      ->check(CLI::Range(2, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--truncate", a.truncate, names_help("Over-long examples", truncate_names()))
      ->check(CLI::IsMember(truncate_names()))
      ->capture_default_str();
  cmd->add_option("--max-bad-fraction", a.options.max_bad_fraction, "Largest fraction of invalid records")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-examples", a.options.min_examples, "Fewest usable examples")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--tools", a.tools,
                  "Tool catalogue (JSON list, e.g. from 'mlxft data tools') offered in the prompt of records "
                  "without tools of their own")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tools-per-prompt", a.options.tools_per_prompt,
                  "With --tools: the called tools plus random others, this many in all (0: every tool; "
                  "eval --tool-calls prompts with these subsets instead of the whole catalogue)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

DataOptions resolve_data_options(const DataFlags& a) {
  DataOptions o = a.options;
  o.format = data_format_from_name(a.options.format, "--format");  // "claude" -> "conversations"
  o.tool_format = tool_format_from_name(a.tool_format, "--tool-format");
  o.labels = label_filter_from_name(a.labels, "--labels");
  o.truncate = truncate_from_name(a.truncate, "--truncate");
  if (!a.tools.empty()) o.tool_catalogue = std::make_shared<const OrderedJson>(load_tool_catalogue(a.tools));
  return o;
}

}  // namespace mlxft::cli
