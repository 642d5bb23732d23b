// The `mlxft config` and `mlxft report` commands as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/test_support.h"

using ::testing::HasSubstr;

namespace mlxft {
namespace {

TEST(ConfigCli, CheckPrintsTheEffectiveConfigWithOverridesAndWarnings) {
  const auto r =
      test::run_mlxft("config check " + (test::source_dir() / "configs" / "quick-test.yaml").string() +
                      " --batch-size 3 --set training.learning_rate=5e-4"
                      " --set training.gradient_accumulation_steps=1 --dataset-path no-such-file.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("  batch_size: 3"));
  EXPECT_THAT(r.output, HasSubstr("  learning_rate: 0.0005"));
  EXPECT_THAT(r.output, HasSubstr("warning: training.batch_size x gradient_accumulation_steps is 3"));
  EXPECT_THAT(r.output, HasSubstr("warning: data.dataset_path: "));
}

TEST(ConfigCli, CheckReportsEveryProblemWithExitCode2) {
  test::TempDir dir;
  test::write_file(dir / "bad.yaml",
                   "model:\n  path: m\ndata:\n  dataset_path: d\ntraining:\n  batchsize: 2\n"
                   "  lr_scheduler: cosin\n");
  const auto r = test::run_mlxft("config check " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("2 problems"));
  EXPECT_THAT(r.output, HasSubstr("did you mean training.batch_size?"));
  EXPECT_THAT(r.output, HasSubstr("must be one of: cosine, linear, constant"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("internal error")));
}

TEST(ConfigCli, ReferenceMatchesTheDocsFile) {
  const auto r = test::run_command(test::mlxft_binary().string() + " config reference 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, test::read_file(test::source_dir() / "docs" / "config-reference.md"));
}

TEST(ReportCli, RebuildsTheReportOfARunDirectory) {
  test::TempDir dir;
  test::write_file(
      dir / "metrics.jsonl",
      "{\"type\": \"train\", \"step\": 10, \"epoch\": 0.5, \"train/loss\": 2.5}\n"
      "{\"type\": \"eval\", \"step\": 10, \"eval/loss\": 2.25, \"eval/perplexity\": 9.49}\n{\"ty");
  const auto r = test::run_mlxft("report --no-plots --run " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("report.html"));
  EXPECT_THAT(test::read_file(dir / "report.html"), HasSubstr("2.2500 (perplexity 9.490, step 10)"));
  EXPECT_EQ(test::run_mlxft("report --run " + (dir / "missing").string()).exit_code, 2);
}

}  // namespace
}  // namespace mlxft
