// The data summary of a run: what the report's "Data" table shows, from the data module's report.
//
// Contract: summarize_data() turns a DataReport and the split sizes into ordered name -> value
// rows (file, format, records, usable, skipped, labels, tool calls, lengths, dropped or cut
// examples, duplicates, split sizes). write_data_summary() stores rows as <run_dir>/data_summary.json
// (a flat JSON object, written atomically), the file run_report_options() reads back.
#pragma once

#include <cstdint>
#include <filesystem>

#include "mlxft/data/dataset.h"
#include "mlxft/report/html.h"

namespace mlxft {

KeyValues summarize_data(const DataReport& report, int64_t train, int64_t valid, int64_t test);
void write_data_summary(const std::filesystem::path& run_dir, const KeyValues& rows);

}  // namespace mlxft
