#include "mlxft/report/data_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "mlxft/util/durable_file.h"

namespace mlxft {

KeyValues summarize_data(const DataReport& r, int64_t train, int64_t valid, int64_t test) {
  KeyValues rows = {
      {"file", r.file},
      {"format", r.format},
      {"records", std::to_string(r.records)},
      {"usable examples", std::to_string(r.usable)},
      {"held out by label", std::to_string(r.held_out)},
      {"skipped records", std::to_string(r.skipped_count())},
      {"labels (true / false / none)",
       fmt::format("{} / {} / {}", r.label_true, r.label_false, r.label_none)},
      {"tool calls (native / text)", fmt::format("{} / {}", r.native_calls, r.text_calls)},
      {"over max_seq_length (dropped / cut)", fmt::format("{} / {}", r.too_long, r.truncated)},
      {"duplicate records", std::to_string(r.duplicates.size())},
      {"trained tokens per epoch", std::to_string(r.trained_tokens)},
      {"split (train / valid / test)", fmt::format("{} / {} / {}", train, valid, test)},
  };
  if (!r.lengths.empty()) {
    const int64_t total = std::accumulate(r.lengths.begin(), r.lengths.end(), int64_t{0});
    rows.emplace_back(
        "tokens per example (mean / max)",
        fmt::format("{:.1f} / {}", static_cast<double>(total) / static_cast<double>(r.lengths.size()),
                    *std::max_element(r.lengths.begin(), r.lengths.end())));
  }
  return rows;
}

void write_data_summary(const std::filesystem::path& run_dir, const KeyValues& rows) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [key, value] : rows) j[key] = value;
  write_file_atomic(run_dir / "data_summary.json", j.dump(2) + "\n");
}

}  // namespace mlxft
