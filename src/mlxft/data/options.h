// The options that shape how a JSONL file becomes training examples, and the names of each choice.
//
// Contract:
// - DataOptions holds every data setting; recipes (config/schema) and command-line flags fill it.
// - Each choice has ONE name table (the *_names() functions, names in enum order): recipe rows,
//   CLI flag checks and error hints all read it.
// - *_from_name(name, where) maps a name to its value; any other name is a Config error naming
//   `where` (a recipe key or a flag) with the allowed names as the hint.
// - data_format_names() lists the names DataOptions::format accepts: "auto", the record formats,
//   and "claude", another name for "conversations".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mlxft/util/json_text.h"

namespace mlxft {

enum class ToolFormat { Native, Text };
enum class LabelFilter { Desirable, All, Undesirable };
enum class Truncate { Drop, End };

const std::vector<std::string>& tool_format_names();   // native, text
const std::vector<std::string>& label_filter_names();  // desirable, all, undesirable
const std::vector<std::string>& truncate_names();      // drop, end
const std::vector<std::string>& data_format_names();   // auto, conversations, claude, messages, ...

ToolFormat tool_format_from_name(const std::string& name, const std::string& where);
LabelFilter label_filter_from_name(const std::string& name, const std::string& where);
Truncate truncate_from_name(const std::string& name, const std::string& where);
// Checks a DataOptions::format name; returns it with "claude" spelled "conversations".
std::string data_format_from_name(const std::string& name, const std::string& where);

// "use a, b or c": the hint of an unknown-name error.
std::string choice_hint(const std::vector<std::string>& names);

struct DataOptions {
  std::string format = "auto";  // a name from data_format_names()
  ToolFormat tool_format = ToolFormat::Native;
  LabelFilter labels = LabelFilter::Desirable;
  int max_seq_length = 2048;
  Truncate truncate = Truncate::Drop;
  double max_bad_fraction = 0.05;
  int min_examples = 100;
  size_t max_message_bytes = 1 << 20;  // one message's content
  size_t max_line_bytes = 16 << 20;    // one JSONL line
  // The tools offered to records that carry none (data.tools); null: none. The catalogue is prompt,
  // never trained on. tools_per_prompt > 0: the called tools plus random others, that many in all.
  std::shared_ptr<const OrderedJson> tool_catalogue;
  int tools_per_prompt = 0;
  uint64_t tools_seed = 0;
};

}  // namespace mlxft
