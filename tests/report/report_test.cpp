// Reading metrics.jsonl, plotting with gnuplot, and the HTML report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "mlxft/report/html.h"
#include "mlxft/report/metrics.h"
#include "mlxft/report/plots.h"
#include "mlxft/report/run_report.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

namespace mlxft {
namespace {

// A small run: train lines every 2 steps, eval at 4 and 8, one skipped step.
void write_run(const fs::path& dir) {
  MetricsWriter w(dir / "metrics.jsonl", false);
  for (int64_t step = 2; step <= 8; step += 2) {
    const double s = static_cast<double>(step);
    w.write(TrainMetrics{.step = step,
                         .epoch = s / 8,
                         .loss = 3.0 - 0.25 * s,
                         .learning_rate = 1e-4 * s,
                         .gradient_norm = 1.0 / s,
                         .tokens_per_second = 500 + s,
                         .trained_tokens = 100 * step,
                         .memory_gb = 1.0,
                         .peak_memory_gb = 1.0 + s / 10,
                         .time_s = s,
                         .extra = {}});
    if (step % 4 == 0) {
      w.write(EvalMetrics{.step = step,
                          .epoch = s / 8,
                          .loss = 2.5 - 0.1 * s,
                          .perplexity = std::exp(2.5 - 0.1 * s),
                          .tokens = 777,
                          .best = true,
                          .extra = {}});
    }
  }
  w.write(SkipMetrics{.step = 5, .reason = "nan loss <at> step"});
}

TEST(ReadMetrics, ToleratesATornLastLineAndJunk) {
  test::TempDir dir;
  test::write_file(
      dir / "metrics.jsonl",
      "{\"type\": \"train\", \"step\": 10, \"epoch\": 0.35, \"train/loss\": 2.31}\n"
      "not json\n"
      "\n"
      "{\"type\": \"eval\", \"step\": 10, \"eval/loss\": 1.9, \"eval/perplexity\": 6.7, \"best\": true}\n"
      "{\"type\": \"skip\", \"step\": 12, \"reason\": \"nan loss\"}\n"
      "{\"type\": \"train\", \"step\": 20, \"train/lo");
  const RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.train.size(), 1u);
  EXPECT_EQ(m.train[0].step, 10);
  EXPECT_DOUBLE_EQ(m.train[0].loss, 2.31);
  EXPECT_TRUE(std::isnan(m.train[0].gradient_norm));  // absent: NaN, not 0
  ASSERT_EQ(m.eval.size(), 1u);
  EXPECT_DOUBLE_EQ(m.eval[0].perplexity, 6.7);
  EXPECT_TRUE(m.eval[0].best);
  ASSERT_EQ(m.skips.size(), 1u);
  EXPECT_EQ(m.skips[0].reason, "nan loss");
  EXPECT_EQ(m.bad_lines, 2);
}

TEST(ReadMetrics, AResumedRunsLinesReplaceTheRepeatedSteps) {
  test::TempDir dir;
  test::write_file(dir / "metrics.jsonl",
                   "{\"type\": \"train\", \"step\": 10, \"train/loss\": 3}\n"
                   "{\"type\": \"train\", \"step\": 20, \"train/loss\": 2}\n"
                   "{\"type\": \"train\", \"step\": 30, \"train/loss\": 1.5}\n"
                   "{\"type\": \"train\", \"step\": 20, \"train/loss\": 2.1}\n"  // resumed from step 10
                   "{\"type\": \"train\", \"step\": 30, \"train/loss\": 1.4}\n");
  const RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.train.size(), 3u);
  EXPECT_DOUBLE_EQ(m.train[1].loss, 2.1);
  EXPECT_DOUBLE_EQ(m.train[2].loss, 1.4);
}

TEST(ReadMetrics, MissingFileIsAnIoError) {
  try {
    read_metrics("/nonexistent/metrics.jsonl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
}

class Plots : public ::testing::TestWithParam<std::string> {};

TEST_P(Plots, GnuplotWritesEveryPlotInTheFormat) {
  if (find_program("gnuplot").empty()) GTEST_SKIP() << "gnuplot not installed";
  test::TempDir dir;
  write_run(dir.path());
  const auto plots =
      write_plots(read_metrics(dir / "metrics.jsonl"), dir.path(), PlotOptions{.format = GetParam()});
  ASSERT_EQ(plots.size(), 4u);
  for (const auto& name : {"loss", "learning_rate", "gradient_norm", "memory"}) {
    const fs::path file = dir / (std::string(name) + "." + GetParam());
    ASSERT_TRUE(fs::exists(file)) << file;
    const std::string bytes = test::read_file(file);
    if (GetParam() == "png") {
      EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    } else {
      EXPECT_THAT(bytes, HasSubstr("<svg"));
      EXPECT_THAT(bytes, HasSubstr("</svg>"));
    }
  }
  EXPECT_FALSE(fs::exists(dir / ".plots.tmp"));  // scratch files are gone
}

INSTANTIATE_TEST_SUITE_P(Formats, Plots, ::testing::Values("png", "svg"));

// Eval lines with tool-call metrics (evaluation.tool_calls): they round-trip as eval/<name> and get
// their own plot, from the step-0 baseline on; runs without them keep the four plots (above).
TEST(ToolCallMetricsInARun, RoundTripAndArePlotted) {
  test::TempDir dir;
  {
    MetricsWriter w(dir / "metrics.jsonl", false);
    w.write(TrainMetrics{.step = 2, .loss = 2.0, .extra = {}});
    for (int64_t step : {0, 2}) {
      w.write(EvalMetrics{.step = step,
                          .loss = 2.0,
                          .extra = {{"tool_name_accuracy", 0.25 * static_cast<double>(step)},
                                    {"tool_arguments_exact", 0.125 * static_cast<double>(step)},
                                    {"tool_turns", 8}}});
    }
  }
  EXPECT_THAT(test::read_file(dir / "metrics.jsonl"), HasSubstr("\"eval/tool_name_accuracy\":0.5"));
  const RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(m.eval.size(), 2u);
  EXPECT_EQ(m.eval[0].step, 0);
  EXPECT_DOUBLE_EQ(m.eval[1].extra_value("tool_name_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(m.eval[1].extra_value("tool_arguments_exact"), 0.25);
  EXPECT_DOUBLE_EQ(m.eval[1].extra_value("tool_turns"), 8);
  EXPECT_EQ(m.eval[1].extra.size(), 3u);  // eval/loss etc. are not extras
  EXPECT_TRUE(std::isnan(m.eval[1].extra_value("absent")));

  if (find_program("gnuplot").empty()) GTEST_SKIP() << "gnuplot not installed";
  const auto plots = write_plots(m, dir.path(), PlotOptions{.format = "svg"});
  EXPECT_EQ(plots.size(), 5u);
  ASSERT_TRUE(fs::exists(dir / "tool_calls.svg"));
  EXPECT_THAT(test::read_file(dir / "tool_calls.svg"), HasSubstr("arguments exact"));
}

TEST(Plots, AKtoRunGetsTheRewardsPlotAndTheUndesirableValidationLoss) {
  if (find_program("gnuplot").empty()) GTEST_SKIP() << "gnuplot not installed";
  test::TempDir dir;
  {
    MetricsWriter w(dir / "metrics.jsonl", false);
    for (int64_t step = 1; step <= 3; ++step) {
      const double s = static_cast<double>(step);
      w.write(TrainMetrics{.step = step,
                           .loss = 0.5 - 0.05 * s,
                           .extra = {{"kto_loss", 0.5 - 0.05 * s},
                                     {"kl", 0.01 * s},
                                     {"rewards_chosen", 0.1 * s},
                                     {"rewards_rejected", -0.2 * s},
                                     {"rewards_margin", 0.3 * s}}});
    }
    w.write(
        EvalMetrics{.step = 3, .loss = 1.5, .extra = {{"loss_desirable", 1.5}, {"loss_undesirable", 2.5}}});
  }
  const auto plots =
      write_plots(read_metrics(dir / "metrics.jsonl"), dir.path(), PlotOptions{.format = "svg"});
  ASSERT_EQ(plots.size(), 5u);
  const std::string kto = test::read_file(dir / "kto.svg");
  EXPECT_THAT(kto, HasSubstr("reward, undesirable"));
  EXPECT_THAT(kto, HasSubstr("KL (nats)"));
  EXPECT_THAT(test::read_file(dir / "loss.svg"), HasSubstr("validation, undesirable"));
  const KeyValues rows = final_numbers(read_metrics(dir / "metrics.jsonl"));
  EXPECT_NE(
      std::find(rows.begin(), rows.end(), std::pair<std::string, std::string>{"final train kl", "0.0300"}),
      rows.end());
  EXPECT_NE(std::find(rows.begin(), rows.end(),
                      std::pair<std::string, std::string>{"last validation loss_undesirable", "2.5000"}),
            rows.end());
  // An SFT run has no KTO plot.
  write_run(dir.path());
  EXPECT_EQ(write_plots(read_metrics(dir / "metrics.jsonl"), dir.path(), PlotOptions{.format = "svg"}).size(),
            4u);
}

TEST(PlotsWithoutGnuplot, AreSkippedWithoutFailing) {
  test::TempDir dir;
  write_run(dir.path());
  RunReportOptions options;
  options.gnuplot = "/nonexistent/gnuplot";
  const RunReport report = build_run_report(dir.path(), options);
  EXPECT_TRUE(report.plots.empty());
  EXPECT_TRUE(fs::exists(dir / "report.html"));
  EXPECT_FALSE(fs::exists(dir / "loss.png"));
}

TEST(ReportHtml, HoldsTheNumbersTheDataAndTheConfig) {
  test::TempDir dir;
  write_run(dir.path());
  const RunMetrics m = read_metrics(dir / "metrics.jsonl");
  ReportContent content;
  content.title = "run <1>";
  content.data_summary = {{"train examples", "671"}, {"dropped", "3 (too long)"}};
  content.effective_config = "training:\n  learning_rate: 0.0002  # a & b\n";
  const std::string html = render_report_html(m, content);
  EXPECT_THAT(html, HasSubstr("<title>run &lt;1&gt;</title>"));
  EXPECT_THAT(html, HasSubstr("<th>optimizer steps</th><td>8</td>"));
  EXPECT_THAT(html, HasSubstr("<th>final train loss</th><td>1.0000</td>"));
  EXPECT_THAT(html, HasSubstr("<th>best validation loss</th><td>1.7000 (perplexity 5.474, step 8)</td>"));
  EXPECT_THAT(html, HasSubstr("<th>peak memory (GB)</th><td>1.80</td>"));
  EXPECT_THAT(html, HasSubstr("<th>trained tokens</th><td>800</td>"));
  EXPECT_THAT(html, HasSubstr("<th>skipped steps</th><td>1</td>"));
  EXPECT_THAT(html, HasSubstr("step 5: nan loss &lt;at&gt; step"));
  EXPECT_THAT(html, HasSubstr("<th>train examples</th><td>671</td>"));
  EXPECT_THAT(html, HasSubstr("learning_rate: 0.0002  # a &amp; b"));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
}

TEST(ReportHtml, EmbedsPlotsSoThePageStandsAlone) {
  test::TempDir dir;
  test::write_file(dir / "a.svg", "<?xml version=\"1.0\"?>\n<svg width=\"10\"><line/></svg>\n");
  test::write_file(dir / "b.png", std::string("\x89PNG\r\n\x1a\n", 8) + "xy");
  ReportContent content;
  content.plots = {dir / "a.svg", dir / "b.png"};
  const std::string html = render_report_html(RunMetrics{}, content);
  EXPECT_THAT(html, HasSubstr("<div class=\"plot\">\n<svg width=\"10\"><line/></svg>"));
  EXPECT_THAT(html, Not(HasSubstr("<?xml")));
  EXPECT_THAT(html, HasSubstr("src=\"data:image/png;base64,iVBORw0KGgp4eQ==\""));
}

TEST(RunReport, RebuildsFromWhatTheRunLeftBehind) {
  if (find_program("gnuplot").empty()) GTEST_SKIP() << "gnuplot not installed";
  test::TempDir dir;
  write_run(dir.path());
  test::write_file(dir / "data_summary.json", "{\"train examples\": 671, \"source\": \"seed.jsonl\"}");
  test::write_file(dir / "samples.jsonl",
                   "{\"step\": 4, \"index\": 1, \"prompt\": \"old\", \"generated\": \"early answer\"}\n"
                   "{\"step\": 8, \"index\": 1, \"prompt\": \"[INST] weather? [/INST]\", \"generated\": "
                   "\"<b>sunny</b>\"}\n"
                   "{\"step\": 8, \"index\": 2, \"prompt\": \"p2\", \"generated\": \"second\"}\n{\"ste");
  test::write_file(
      dir / "effective_config.yaml",
      "model:\n  path: /m/Mistral-7B\ndata:\n  dataset_path: /d.jsonl\nlogging:\n  plot_format: svg\n");
  const RunReport report = build_run_report(dir.path(), run_report_options(dir.path()));
  EXPECT_EQ(report.plots.size(), 4u);
  const std::string html = test::read_file(report.html);
  EXPECT_THAT(html, HasSubstr("<title>mlxft run: Mistral-7B</title>"));
  EXPECT_THAT(html, HasSubstr("<th>train examples</th><td>671</td>"));
  EXPECT_THAT(html, HasSubstr("<th>source</th><td>seed.jsonl</td>"));
  EXPECT_THAT(html, HasSubstr("plot_format: svg"));
  EXPECT_THAT(html, HasSubstr("<h2>Samples (step 8)</h2>"));
  EXPECT_THAT(html, HasSubstr("<pre>&lt;b&gt;sunny&lt;/b&gt;</pre>"));
  EXPECT_THAT(html, HasSubstr("<pre>second</pre>"));
  EXPECT_THAT(html, Not(HasSubstr("early answer")));
  EXPECT_THAT(html, HasSubstr("<svg"));
}

}  // namespace
}  // namespace mlxft
