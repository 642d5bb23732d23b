// The data choice names (see options.h).
#include "mlxft/data/options.h"

#include <fmt/format.h>

#include <algorithm>

#include "mlxft/util/error.h"

namespace mlxft {
namespace {

// The index of `name` in `names`, or a Config error naming `where`.
size_t index_of(const std::vector<std::string>& names, const std::string& name, const char* what,
                const std::string& where) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) {
    throw Error(ErrorKind::Config, where, fmt::format("unknown {} '{}'", what, name), choice_hint(names));
  }
  return static_cast<size_t>(it - names.begin());
}

}  // namespace

const std::vector<std::string>& tool_format_names() {
  static const std::vector<std::string> names = {"native", "text"};
  return names;
}

const std::vector<std::string>& label_filter_names() {
  static const std::vector<std::string> names = {"desirable", "all", "undesirable"};
  return names;
}

const std::vector<std::string>& truncate_names() {
  static const std::vector<std::string> names = {"drop", "end"};
  return names;
}

const std::vector<std::string>& data_format_names() {
  static const std::vector<std::string> names = {"auto",     "conversations", "claude",           "sharegpt",
                                                 "messages", "text",          "prompt_completion"};
  return names;
}

std::string choice_hint(const std::vector<std::string>& names) {
  if (names.size() < 2) return fmt::format("use {}", fmt::join(names, ""));
  const std::vector<std::string> head(names.begin(), names.end() - 1);
  return fmt::format("use {} or {}", fmt::join(head, ", "), names.back());
}

ToolFormat tool_format_from_name(const std::string& name, const std::string& where) {
  return static_cast<ToolFormat>(index_of(tool_format_names(), name, "tool format", where));
}

LabelFilter label_filter_from_name(const std::string& name, const std::string& where) {
  return static_cast<LabelFilter>(index_of(label_filter_names(), name, "label filter", where));
}

Truncate truncate_from_name(const std::string& name, const std::string& where) {
  return static_cast<Truncate>(index_of(truncate_names(), name, "truncation", where));
}

std::string data_format_from_name(const std::string& name, const std::string& where) {
  (void)index_of(data_format_names(), name, "format", where);
  return name == "claude" ? "conversations" : name;
}

}  // namespace mlxft
