#include "cli/data_options.h"

namespace mlxft::cli {

void add_data_options(CLI::App* cmd, DataFlags& a) {
  cmd->add_option("--format", a.options.format, "auto|conversations|messages|text|prompt_completion")
      ->check(CLI::IsMember({"auto", "conversations", "messages", "text", "prompt_completion"}))
      ->capture_default_str();
  cmd->add_option("--tool-format", a.tool_format, "Seed plain-text tool calls: native|text")
      ->check(CLI::IsMember({"native", "text"}))
      ->capture_default_str();
  cmd->add_option("--labels", a.labels, "Examples to use: desirable|all|undesirable")
      ->check(CLI::IsMember({"desirable", "all", "undesirable"}))
      ->capture_default_str();
  cmd->add_option("--max-seq-length", a.options.max_seq_length, "Longest example in tokens")
      ->check(CLI::Range(2, 1 << 24))
      ->capture_default_str();
  cmd->add_option("--truncate", a.truncate, "Over-long examples: drop|end")
      ->check(CLI::IsMember({"drop", "end"}))
      ->capture_default_str();
  cmd->add_option("--max-bad-fraction", a.options.max_bad_fraction, "Largest fraction of invalid records")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-examples", a.options.min_examples, "Fewest usable examples")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

DataOptions resolve_data_options(const DataFlags& a) {
  DataOptions o = a.options;
  o.tool_format = tool_format_from_name(a.tool_format, "--tool-format");
  o.labels = label_filter_from_name(a.labels, "--labels");
  o.truncate = truncate_from_name(a.truncate, "--truncate");
  return o;
}

}  // namespace mlxft::cli
