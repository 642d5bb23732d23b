// The TensorBoard sink (report/tensorboard.h): the tags and values of metrics lines, a fresh run
// clearing an earlier run's files, and resume leaving one value per tag and step.
#include "mlxft/report/tensorboard.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

TrainMetrics train_line(int64_t step) {
  return TrainMetrics{.step = step,
                      .epoch = 0.1 * static_cast<double>(step),
                      .loss = 3.0 - 0.1 * static_cast<double>(step),
                      .learning_rate = 1e-4,
                      .gradient_norm = 0.5,
                      .tokens_per_second = 100.0,
                      .trained_tokens = 40 * step,
                      .memory_gb = 1.0,
                      .peak_memory_gb = 1.5,
                      .time_s = static_cast<double>(step),
                      .extra = {{"kl", 0.25}}};
}

// (tag, step) -> values over every event file of `dir`, in TensorBoard's reading order.
std::map<std::pair<std::string, int64_t>, std::vector<float>> scalars_of(const fs::path& dir) {
  std::map<std::pair<std::string, int64_t>, std::vector<float>> out;
  for (const fs::path& f : event_files(dir)) {
    const EventFile file = read_event_file(f);
    EXPECT_TRUE(file.complete) << f;
    for (const Event& e : file.events)
      for (const ScalarValue& v : e.scalars) out[{v.tag, e.step}].push_back(v.value);
  }
  return out;
}

TEST(TensorBoardSink, WritesEveryScalarOfTheLinesWithTheStep) {
  test::TempDir dir;
  const fs::path tb = dir / "tensorboard";
  TensorBoardSink sink(tb);
  EXPECT_FALSE(fs::exists(tb));  // nothing before the first record
  sink.on_eval(EvalMetrics{
      .step = 0, .epoch = 0.0, .loss = 4.0, .perplexity = 54.6, .tokens = 99, .best = false, .extra = {}});
  sink.on_train(train_line(2));
  sink.on_eval(EvalMetrics{.step = 2,
                           .epoch = 0.2,
                           .loss = 3.5,
                           .perplexity = 33.1,
                           .tokens = 99,
                           .best = true,
                           .extra = {{"tool_name_accuracy", 0.75}}});
  sink.on_skip(SkipMetrics{.step = 3, .reason = "nan loss"});
  ASSERT_EQ(event_files(tb).size(), 1u);
  EXPECT_EQ(event_files(tb)[0], sink.path());
  const EventFile file = read_event_file(sink.path());
  ASSERT_TRUE(file.complete);
  ASSERT_EQ(file.events.size(), 5u);
  EXPECT_EQ(file.events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(file.events[0].scalars.empty());
  EXPECT_EQ(file.events[2].step, 2);
  std::map<std::string, float> train;
  for (const ScalarValue& v : file.events[2].scalars) train[v.tag] = v.value;
  const std::map<std::string, float> expected = {{"train/loss", 2.8F},
                                                 {"train/learning_rate", 1e-4F},
                                                 {"train/gradient_norm", 0.5F},
                                                 {"train/tokens_per_second", 100.0F},
                                                 {"train/trained_tokens", 80.0F},
                                                 {"system/memory_gb", 1.0F},
                                                 {"system/peak_memory_gb", 1.5F},
                                                 {"time_s", 2.0F},
                                                 {"train/epoch", 0.2F},
                                                 {"train/kl", 0.25F}};
  EXPECT_EQ(train, expected);
  const auto all = scalars_of(tb);
  EXPECT_EQ(all.at({"eval/loss", 0}), std::vector<float>{4.0F});
  EXPECT_EQ(all.at({"eval/best", 0}), std::vector<float>{0.0F});
  EXPECT_EQ(all.at({"eval/best", 2}), std::vector<float>{1.0F});
  EXPECT_EQ(all.at({"eval/tool_name_accuracy", 2}), std::vector<float>{0.75F});
  EXPECT_EQ(all.at({"eval/perplexity", 2}), std::vector<float>{33.1F});
  EXPECT_EQ(all.at({"train/skipped", 3}), std::vector<float>{1.0F});
}

// A run that crashed after step 6 with its last checkpoint at step 4 resumes: steps 5 and 6 come
// again. Every tag has one value per step, the new values, and the old file keeps steps <= 4.
TEST(TensorBoardSink, ResumeLeavesOneValuePerStep) {
  test::TempDir dir;
  const fs::path tb = dir / "tensorboard";
  fs::path first;
  {
    TensorBoardSink sink(tb);
    for (int64_t s = 1; s <= 6; ++s) sink.on_train(train_line(s));
    first = sink.path();
  }
  // A torn last record, as a crash leaves it.
  const std::string bytes = test::read_file(first);
  test::write_file(first, bytes + bytes.substr(bytes.size() - 40, 20));
  {
    TensorBoardSink sink(tb);
    sink.on_resume(4);
    TrainMetrics again = train_line(5);
    again.loss = 9.0;  // the resumed run's value must be the one left
    sink.on_train(again);
    for (int64_t s = 6; s <= 8; ++s) sink.on_train(train_line(s));
    EXPECT_NE(sink.path(), first);
  }
  const auto files = event_files(tb);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], first);  // name order = writing order
  const EventFile old = read_event_file(first);
  EXPECT_TRUE(old.complete);
  for (const Event& e : old.events) EXPECT_LE(e.step, 4);
  const auto all = scalars_of(tb);
  std::set<int64_t> steps;
  for (const auto& [key, values] : all) {
    EXPECT_EQ(values.size(), 1u) << key.first << " at step " << key.second;
    if (key.first == "train/loss") steps.insert(key.second);
  }
  EXPECT_EQ(steps, (std::set<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(all.at({"train/loss", 5}), std::vector<float>{9.0F});
}

TEST(TensorBoardSink, AFreshRunRemovesAnEarlierRunsFiles) {
  test::TempDir dir;
  const fs::path tb = dir / "tensorboard";
  {
    TensorBoardSink sink(tb);
    for (int64_t s = 1; s <= 3; ++s) sink.on_train(train_line(s));
  }
  test::write_file(tb / "notes.txt", "kept");
  TensorBoardSink sink(tb);
  sink.on_train(train_line(1));
  ASSERT_EQ(event_files(tb).size(), 1u);
  EXPECT_EQ(read_event_file(sink.path()).events.size(), 2u);  // file_version + step 1
  EXPECT_TRUE(fs::exists(tb / "notes.txt"));
}

}  // namespace
}  // namespace mlxft
