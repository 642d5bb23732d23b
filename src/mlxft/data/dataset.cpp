#include "mlxft/data/dataset.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "mlxft/data/records.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/util/error.h"
#include "mlxft/util/hash.h"
#include "mlxft/util/prng.h"

namespace mlxft {

namespace {

std::string read_whole_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto where = file.string();
  if (!std::filesystem::exists(file, ec)) {
    throw Error(ErrorKind::Data, where, "data file does not exist", "check the path given to --data");
  }
  if (std::filesystem::is_directory(file, ec)) {
    throw Error(ErrorKind::Data, where, "is a directory, not a JSONL file", "point --data at a .jsonl file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorKind::Data, where, "cannot open the data file", "check its permissions");
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Whole-text checks; drops a UTF-8 byte order mark.
void check_text(std::string& text, const std::string& where) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw Error(ErrorKind::Data, where, "data file is empty", "it needs one JSON record per line");
  }
  const bool utf16_bom = text.size() >= 2 && ((text[0] == '\xFF' && text[1] == '\xFE') ||
                                              (text[0] == '\xFE' && text[1] == '\xFF'));
  if (utf16_bom || text.find('\0') != std::string::npos) {
    throw Error(ErrorKind::Data, where, "is not UTF-8 text (binary data or UTF-16)",
                "convert it to UTF-8 JSONL, one JSON record per line");
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
}

struct Line {
  int64_t number;  // 1-based
  std::string_view text;
};

std::vector<Line> split_lines(const std::string& text) {
  std::vector<Line> lines;
  size_t start = 0;
  int64_t number = 1;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back({number, line});
    start = end + 1;
    ++number;
  }
  return lines;
}

bool selected(const std::optional<bool>& label, LabelFilter filter) {
  switch (filter) {
    case LabelFilter::All: return true;
    case LabelFilter::Desirable: return !label || *label;
    case LabelFilter::Undesirable: return label && !*label;
  }
  return true;
}

std::string fmt_percent(double fraction) {
  return fmt::format("{:.1f} %", fraction * 100.0);
}

// Reads the lines of one JSONL text, one at a time, into a Dataset and its report.
class LineReader {
 public:
  // chat == nullptr: records are read into conversations only (no rendering, no length limit).
  LineReader(const std::vector<Line>& lines, const ChatFormat* chat, const DataOptions& options,
             std::optional<RecordFormat> format, Dataset& ds)
      : lines_(lines), chat_(chat), options_(options), format_(format), ds_(ds), r_(ds.report) {}

  // One line: skipped (with its reason), dropped as too long, or kept (selected or held out).
  void read(const Line& line) {
    ++r_.records;
    const auto record = parse_line(line);
    if (!record) return;
    if (!format_) format_ = detect_format(*record);
    try {
      add(line, *record);
    } catch (const RecordError& e) {
      skip(line.number, e.kind_id(), e.what());
    }
  }
  bool any_utf8() const { return any_utf8_; }
  const std::optional<RecordFormat>& format() const { return format_; }

 private:
  void skip(int64_t line, RecordErrorKind kind, const std::string& why) {
    const std::string name = to_string(kind);
    r_.skipped.push_back({line, name + ": " + why});
    ++r_.skip_reasons[name];
  }

  // The line's JSON, or nothing when it was skipped (too large, not UTF-8, not JSON).
  std::optional<OrderedJson> parse_line(const Line& line) {
    if (line.text.size() > options_.max_line_bytes) {
      skip(line.number, RecordErrorKind::MessageTooLarge,
           "line is " + std::to_string(line.text.size()) + " bytes");
      return std::nullopt;
    }
    if (!is_valid_utf8(line.text)) {
      skip(line.number, RecordErrorKind::InvalidUtf8, "the line is not valid UTF-8");
      return std::nullopt;
    }
    any_utf8_ = true;
    try {
      return OrderedJson::parse(line.text);
    } catch (const OrderedJson::exception& e) {
      std::string msg = e.what();
      if (const auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
      skip(line.number, RecordErrorKind::InvalidJson, msg);
      return std::nullopt;
    }
  }

  // Validates, renders and files one record; RecordError when it cannot be used.
  void add(const Line& line, const OrderedJson& record) {
    if (!record.is_object())
      throw RecordError(RecordErrorKind::NotAnObject,
                        "the record is a JSON " + std::string(record.type_name()));
    if (!format_)
      throw RecordError(RecordErrorKind::UnknownShape,
                        "no \"conversations\", \"messages\", \"text\" or \"prompt\"/\"completion\" key");
    auto parsed = parse_record(record, *format_, options_, static_cast<uint64_t>(line.number));
    offer_catalogue(parsed.conversation, line.number);
    const auto& conv = parsed.conversation;
    Example ex;
    ex.index = line.number - 1;
    ex.label = conv.label;
    ex.conversation = std::make_shared<const Conversation>(conv);
    if (chat_ == nullptr) {
      count(parsed, r_.file + ":" + std::to_string(line.number));
      if (selected(conv.label, options_.labels)) ds_.examples.push_back(std::move(ex));
      return;
    }
    auto rendered = chat_->render(conv);
    ex.ids = std::move(rendered.ids);
    ex.mask = std::move(rendered.mask);
    if (ex.trained_tokens() == 0)
      throw RecordError(RecordErrorKind::NothingToTrain, "no assistant token to train on");
    count(parsed, r_.file + ":" + std::to_string(line.number));
    if (!fit_length(ex)) return;
    note_duplicate(line);
    if (selected(conv.label, options_.labels)) {
      r_.lengths.push_back(static_cast<int64_t>(ex.ids.size()));
      r_.trained_tokens += ex.trained_tokens();
      ds_.examples.push_back(std::move(ex));
    } else {
      ds_.held_out.push_back(std::move(ex));
    }
  }

  // A record without tools of its own is offered the catalogue (data.tools), or its per-prompt subset.
  void offer_catalogue(Conversation& conv, int64_t line_number) const {
    if (!options_.tool_catalogue || !conv.tools.empty() || conv.raw_text) return;
    conv.tools = tools_for_prompt(*options_.tool_catalogue, conv, options_.tools_per_prompt,
                                  mix_seed(options_.tools_seed, static_cast<uint64_t>(line_number)));
    conv.tools_from_catalogue = true;
  }

  void count(const ParsedRecord& parsed, const std::string& where) {
    const auto& conv = parsed.conversation;
    for (const auto& w : conv.warnings) r_.record_warnings.push_back(where + ": " + w);
    ++(conv.label ? (*conv.label ? r_.label_true : r_.label_false) : r_.label_none);
    r_.with_context += parsed.has_context ? 1 : 0;
    ++r_.tool_calls_per_record[parsed.tool_calls];
    r_.native_calls += conv.native_calls;
    r_.text_calls += conv.text_calls;
    r_.dropped_prose += conv.dropped_prose;
    r_.malformed_calls += conv.malformed_calls;
  }

  // Applies max_seq_length: false when the example is dropped; cuts it under Truncate::End.
  bool fit_length(Example& ex) {
    if (ex.ids.size() <= static_cast<size_t>(options_.max_seq_length)) return true;
    if (options_.truncate == Truncate::Drop) {
      ++r_.too_long;
      return false;
    }
    ex.ids.resize(static_cast<size_t>(options_.max_seq_length));
    ex.mask.resize(static_cast<size_t>(options_.max_seq_length));
    ++r_.truncated;
    if (ex.trained_tokens() == 0)
      throw RecordError(RecordErrorKind::NothingToTrain, "no assistant token left after truncation");
    return true;
  }

  void note_duplicate(const Line& line) {
    auto& same = seen_[fnv1a64(line.text)];
    for (int64_t first : same) {
      if (lines_[static_cast<size_t>(first)].text == line.text) {
        r_.duplicates.emplace_back(line.number, lines_[static_cast<size_t>(first)].number);
        break;
      }
    }
    same.push_back(static_cast<int64_t>(&line - lines_.data()));
  }

  const std::vector<Line>& lines_;
  const ChatFormat* chat_;
  const DataOptions& options_;
  std::optional<RecordFormat> format_;
  Dataset& ds_;
  DataReport& r_;
  bool any_utf8_ = false;
  std::unordered_map<uint64_t, std::vector<int64_t>> seen_;  // hash of a line -> indices of lines with it
};

void add_data_warnings(DataReport& r) {
  if (!r.duplicates.empty()) {
    r.warnings.push_back(std::to_string(r.duplicates.size()) +
                         " records are exact duplicates of an earlier line (first: line " +
                         std::to_string(r.duplicates.front().first) + " repeats line " +
                         std::to_string(r.duplicates.front().second) + ")");
  }
  const int64_t labeled = r.label_true + r.label_false;
  if (labeled > 0) {
    const double major =
        static_cast<double>(std::max(r.label_true, r.label_false)) / static_cast<double>(labeled);
    if (major > 0.8) {
      r.warnings.push_back("label imbalance: " + std::to_string(r.label_true) + " desirable / " +
                           std::to_string(r.label_false) + " undesirable is beyond 80/20");
    }
  }
}

}  // namespace

Dataset load_dataset_unchecked(const std::filesystem::path& file, const ChatFormat& chat,
                               const DataOptions& options) {
  return load_dataset_from_text(read_whole_file(file), file.string(), chat, options);
}

namespace {

Dataset read_lines(std::string text, const std::string& source_name, const ChatFormat* chat,
                   const DataOptions& options) {
  std::optional<RecordFormat> format;
  if (options.format != "auto") {
    format = parse_format_name(options.format);
    if (!format) {
      throw Error(ErrorKind::Config, "data.format", fmt::format("unknown format \"{}\"", options.format),
                  choice_hint(data_format_names()));
    }
  }
  if (options.max_seq_length < 2) {
    throw Error(ErrorKind::Config, "data.max_seq_length",
                "must be at least 2, got " + std::to_string(options.max_seq_length));
  }
  check_text(text, source_name);
  Dataset ds;
  ds.report.file = source_name;
  const auto lines = split_lines(text);
  LineReader reader(lines, chat, options, format, ds);
  for (const auto& line : lines) reader.read(line);
  DataReport& r = ds.report;
  if (!reader.any_utf8()) {
    throw Error(ErrorKind::Data, r.file, "is not UTF-8 text: no line is valid UTF-8",
                "convert it to UTF-8 JSONL");
  }
  r.format = reader.format() ? to_string(*reader.format()) : "unknown";
  r.usable = static_cast<int64_t>(ds.examples.size());
  r.held_out = static_cast<int64_t>(ds.held_out.size());
  add_data_warnings(r);
  return ds;
}

}  // namespace

Dataset load_dataset_from_text(std::string text, const std::string& source_name, const ChatFormat& chat,
                               const DataOptions& options) {
  return read_lines(std::move(text), source_name, &chat, options);
}

std::vector<Conversation> read_conversations(const std::filesystem::path& file, const DataOptions& options,
                                             DataReport* report) {
  Dataset ds = read_lines(read_whole_file(file), file.string(), nullptr, options);
  std::vector<Conversation> out;
  out.reserve(ds.examples.size());
  for (const auto& e : ds.examples) out.push_back(*e.conversation);
  if (report != nullptr) *report = std::move(ds.report);
  return out;
}

void check_dataset_usable(const DataReport& r, const DataOptions& options) {
  const auto first_skips = [&] {
    std::string s;
    for (size_t i = 0; i < std::min<size_t>(3, r.skipped.size()); ++i) {
      s += "\n  " + r.file + ":" + std::to_string(r.skipped[i].line) + ": " + r.skipped[i].reason;
    }
    return s;
  };
  const double bad =
      r.records == 0 ? 1.0 : static_cast<double>(r.skipped_count()) / static_cast<double>(r.records);
  if (bad > options.max_bad_fraction) {
    throw Error(ErrorKind::Data, r.file,
                std::to_string(r.skipped_count()) + " of " + std::to_string(r.records) +
                    " records are invalid (" + fmt_percent(bad) + ", the limit is " +
                    fmt_percent(options.max_bad_fraction) + ")" + first_skips(),
                "fix the records listed by 'mlxft data check', or raise data.max_bad_fraction");
  }
  if (r.usable < options.min_examples) {
    throw Error(ErrorKind::Data, r.file,
                "only " + std::to_string(r.usable) + " usable examples, fewer than the minimum of " +
                    std::to_string(options.min_examples) + " (" + std::to_string(r.held_out) +
                    " left out by the label filter, " + std::to_string(r.too_long) +
                    " over max_seq_length, " + std::to_string(r.skipped_count()) + " invalid)",
                "add data, or lower data.min_examples");
  }
}

Dataset load_dataset(const std::filesystem::path& file, const ChatFormat& chat, const DataOptions& options) {
  auto ds = load_dataset_unchecked(file, chat, options);
  const auto& r = ds.report;
  for (size_t i = 0; i < std::min<size_t>(5, r.skipped.size()); ++i) {
    spdlog::warn("{}:{}: skipped: {}", r.file, r.skipped[i].line, r.skipped[i].reason);
  }
  if (r.skipped.size() > 5) spdlog::warn("{}: {} more records skipped", r.file, r.skipped.size() - 5);
  for (size_t i = 0; i < std::min<size_t>(5, r.record_warnings.size()); ++i)
    spdlog::warn("{}", r.record_warnings[i]);
  if (r.record_warnings.size() > 5) {
    spdlog::warn("{}: {} more record warnings ('mlxft data check' lists them)", r.file,
                 r.record_warnings.size() - 5);
  }
  for (const auto& w : r.warnings) spdlog::warn("{}", w);
  check_dataset_usable(r, options);
  return ds;
}

}  // namespace mlxft
