// The metrics.jsonl writer (report/metrics.h): the agreed lines, appending after a torn line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/report/metrics.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

using ::testing::HasSubstr;

namespace mlxft {
namespace {

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(MetricsWriter, WritesTheAgreedLines) {
  test::TempDir dir;
  {
    MetricsWriter w(dir / "metrics.jsonl", false);
    w.write(TrainMetrics{.step = 10,
                         .epoch = 0.35,
                         .loss = 2.31,
                         .learning_rate = 2e-4,
                         .gradient_norm = 0.87,
                         .tokens_per_second = 812.5,
                         .trained_tokens = 12345,
                         .memory_gb = 1.23,
                         .peak_memory_gb = 1.5,
                         .time_s = 12.3,
                         .extra = {{"kl", 0.25}, {"rewards_margin", -0.5}}});
    w.write(EvalMetrics{.step = 50,
                        .epoch = 1.7,
                        .loss = 1.9,
                        .perplexity = 6.7,
                        .tokens = 4567,
                        .best = true,
                        .extra = {{"loss_undesirable", 2.5}}});
    w.write(SkipMetrics{.step = 12, .reason = "nan loss"});
  }
  const auto lines = json_lines(test::read_file(dir / "metrics.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["type"], "train");
  EXPECT_EQ(lines[0]["step"], 10);
  EXPECT_DOUBLE_EQ(lines[0]["train/loss"].get<double>(), 2.31);
  EXPECT_DOUBLE_EQ(lines[0]["train/learning_rate"].get<double>(), 2e-4);
  EXPECT_EQ(lines[0]["train/trained_tokens"], 12345);
  EXPECT_DOUBLE_EQ(lines[0]["system/peak_memory_gb"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(lines[0]["train/kl"].get<double>(), 0.25);  // an objective's metrics, by name
  const RunMetrics back = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(back.train.size(), 1u);
  ASSERT_EQ(back.eval.size(), 1u);
  EXPECT_EQ(back.eval[0].extra, (std::map<std::string, double>{{"loss_undesirable", 2.5}}));
  EXPECT_DOUBLE_EQ(lines[1]["eval/loss_undesirable"].get<double>(), 2.5);
  EXPECT_EQ(back.train[0].extra, (std::map<std::string, double>{{"kl", 0.25}, {"rewards_margin", -0.5}}));
  EXPECT_EQ(lines[1]["type"], "eval");
  EXPECT_DOUBLE_EQ(lines[1]["eval/perplexity"].get<double>(), 6.7);
  EXPECT_EQ(lines[1]["best"], true);
  EXPECT_EQ(lines[2], (nlohmann::json{{"type", "skip"}, {"step", 12}, {"reason", "nan loss"}}));
}

TEST(MetricsWriter, AppendingAfterATornLineStartsANewLine) {
  test::TempDir dir;
  test::write_file(dir / "metrics.jsonl",
                   "{\"type\": \"skip\", \"step\": 1, \"reason\": \"x\"}\n{\"type\": \"tra");
  {
    MetricsWriter w(dir / "metrics.jsonl", true);
    w.write(SkipMetrics{.step = 2, .reason = "inf gradient"});
  }
  const std::string text = test::read_file(dir / "metrics.jsonl");
  EXPECT_THAT(text, HasSubstr("{\"type\": \"tra\n{\"type\":\"skip\",\"step\":2"));
  MetricsWriter fresh(dir / "metrics.jsonl", false);
  fresh.write(SkipMetrics{.step = 3, .reason = "y"});
  EXPECT_EQ(json_lines(test::read_file(dir / "metrics.jsonl")).size(), 1u);
}

}  // namespace
}  // namespace mlxft
