// The report's data summary: rows from the data module's report, stored and read back in order.
#include "mlxft/report/data_summary.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mlxft/report/run_report.h"
#include "support/test_support.h"

namespace mlxft {
namespace {

TEST(DataSummary, RowsComeFromTheDataReportAndReadBackInOrder) {
  DataReport r;
  r.file = "seed.jsonl";
  r.format = "conversations";
  r.records = 1000;
  r.usable = 746;
  r.label_true = 746;
  r.label_false = 254;
  r.lengths = {100, 300, 200};
  r.duplicates = {{5, 2}};
  const KeyValues rows = summarize_data(r, 671, 75, 0);
  EXPECT_THAT(rows, ::testing::Contains(std::pair<std::string, std::string>("labels (true / false / none)",
                                                                            "746 / 254 / 0")));
  EXPECT_THAT(rows, ::testing::Contains(
                        std::pair<std::string, std::string>("split (train / valid / test)", "671 / 75 / 0")));
  EXPECT_THAT(rows, ::testing::Contains(std::pair<std::string, std::string>("tokens per example (mean / max)",
                                                                            "200.0 / 300")));
  EXPECT_THAT(rows, ::testing::Contains(std::pair<std::string, std::string>("duplicate records", "1")));

  test::TempDir dir;
  write_data_summary(dir.path(), rows);
  EXPECT_EQ(run_report_options(dir.path()).content.data_summary, rows);
}

}  // namespace
}  // namespace mlxft
