// Loading a JSONL training file into rendered examples, with a report.
//
// Contract: load_dataset() reads every line of a JSONL file (formats: the
// reference dataset's "conversations", OpenAI-style "messages" with tools,
// mlx-lm's "text" and "prompt"/"completion"; detected from the first valid
// record unless DataOptions::format says otherwise), validates each record,
// offers a record without tools of its own the tool catalogue (DataOptions::tool_catalogue,
// data/tool_catalogue.h tools_for_prompt with tools_per_prompt, seeded by tools_seed and the
// line), renders it with the given chat format as token ids with a loss mask
// (chat/chat_format.h) and keeps, in input order, the examples the label
// filter selects. A record that
// fails validation is skipped and reported with file:line and the reason.
// Whole-file problems (missing, empty, a directory, not UTF-8 text) and an
// unusable result (more than max_bad_fraction skipped, fewer than
// min_examples usable) throw mlxft::Error (Data kind). Never throws anything
// else, for any byte sequence.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mlxft/chat/chat_format.h"
#include "mlxft/data/example.h"
#include "mlxft/data/options.h"

namespace mlxft {

struct SkippedRecord {
  int64_t line = 0;  // 1-based line number
  std::string reason;
};

struct DataReport {
  std::string file;
  std::string format;                  // the detected or forced format
  int64_t records = 0;                 // non-blank lines
  int64_t usable = 0;                  // examples selected by the label filter (Dataset::examples)
  int64_t held_out = 0;                // valid examples the label filter left out (Dataset::held_out)
  std::vector<SkippedRecord> skipped;  // every skipped record, in file order
  std::map<std::string, int64_t> skip_reasons;              // reason kind -> count
  int64_t label_true = 0, label_false = 0, label_none = 0;  // over valid records
  int64_t with_context = 0;                                 // records carrying a "context" object
  std::map<int, int64_t> tool_calls_per_record;             // calls in a record -> records
  int64_t native_calls = 0, text_calls = 0, dropped_prose = 0;
  int64_t malformed_calls = 0;   // text tool-call blocks whose arguments are not a JSON object
  int64_t too_long = 0;          // over max_seq_length: dropped (Truncate::Drop) ...
  int64_t truncated = 0;         // ... or cut at the end (Truncate::End)
  std::vector<int64_t> lengths;  // token length of every usable example
  int64_t trained_tokens = 0;    // over usable examples
  std::vector<std::pair<int64_t, int64_t>> duplicates;  // (line, line of its first copy)
  std::vector<std::string> record_warnings;             // "file:line: ..." notes on records that were kept
  std::vector<std::string> warnings;                    // data-level warnings (duplicates, label imbalance)

  int64_t skipped_count() const { return static_cast<int64_t>(skipped.size()); }
};

struct Dataset {
  std::vector<Example> examples;  // usable, in input order, after the label filter
  std::vector<Example> held_out;  // valid but filtered out by label (kept for evaluation / preference)
  DataReport report;
};

// Throws mlxft::Error (Data) for an unusable file; see the header comment.
Dataset load_dataset(const std::filesystem::path& file, const ChatFormat& chat, const DataOptions& options);

// Like load_dataset() but never enforces max_bad_fraction / min_examples
// (for `mlxft data check`, which reports them instead). Whole-file errors still throw.
Dataset load_dataset_unchecked(const std::filesystem::path& file, const ChatFormat& chat,
                               const DataOptions& options);

// The same on JSONL text already in memory; source_name stands for the file in
// messages. Whole-text problems (empty, binary, UTF-16) throw.
Dataset load_dataset_from_text(std::string text, const std::string& source_name, const ChatFormat& chat,
                               const DataOptions& options);

// The conversations of every valid record the label filter selects, in input order, without
// rendering (no tokenizer needed; max_seq_length does not apply): what `mlxft data tools` infers a
// tool catalogue from. Whole-file errors throw as for load_dataset(); report, when given, gets the
// counts (records, skipped with reasons, format).
std::vector<Conversation> read_conversations(const std::filesystem::path& file, const DataOptions& options,
                                             DataReport* report = nullptr);

// Throws the error load_dataset() would throw for this report, if any.
void check_dataset_usable(const DataReport& report, const DataOptions& options);

}  // namespace mlxft
