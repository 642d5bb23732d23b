// The progress reporter: a redrawn bar on a terminal, plain lines otherwise.
#include "mlxft/util/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

using ::testing::HasSubstr;

namespace mlxft {
namespace {

ProgressState state_at(int64_t step) {
  return ProgressState{.epoch = 2,
                       .num_epochs = 3,
                       .step = step,
                       .total_steps = 100,
                       .loss = 1.23456,
                       .learning_rate = 2e-4,
                       .tokens_per_second = 812.4,
                       .memory_gb = 1.5,
                       .elapsed_s = static_cast<double>(step) * 2.0};
}

TEST(Progress, ModeFollowsTheSettingAndTheTerminal) {
  EXPECT_EQ(progress_mode("auto", true), ProgressMode::Bar);
  EXPECT_EQ(progress_mode("auto", false), ProgressMode::Plain);
  EXPECT_EQ(progress_mode("bar", false), ProgressMode::Bar);
  EXPECT_EQ(progress_mode("plain", true), ProgressMode::Plain);
  EXPECT_EQ(progress_mode("none", true), ProgressMode::None);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(0), "00:00");
  EXPECT_EQ(format_duration(125.4), "02:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

TEST(Progress, BarRedrawsOneLineInPlace) {
  std::ostringstream out;
  ProgressReporter p(out, ProgressMode::Bar, 10);
  p.update(state_at(24));
  p.update(state_at(25));
  const std::string drawn = out.str();
  EXPECT_EQ(std::count(drawn.begin(), drawn.end(), '\n'), 0);
  EXPECT_EQ(std::count(drawn.begin(), drawn.end(), '\r'), 2);
  const std::string last = drawn.substr(drawn.rfind('\r'));
  EXPECT_THAT(last, HasSubstr("epoch 2/3 [#####...............] 25/100  25%"));
  EXPECT_THAT(last, HasSubstr("loss 1.2346 | lr 2.00e-04 | 812 tok/s | mem 1.50 GB"));
  EXPECT_THAT(last, HasSubstr("elapsed 00:50 | ETA 02:30"));  // 2 s/step, 75 steps left
  p.message("eval loss 1.1");
  EXPECT_THAT(out.str(), HasSubstr("eval loss 1.1\nepoch 2/3"));  // the bar comes back under the message
  p.finish();
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(Progress, EtaAfterAResumeCountsOnlyTheStepsTimed) {
  std::ostringstream out;
  ProgressReporter p(out, ProgressMode::Plain, 1);
  ProgressState s = state_at(60);
  s.start_step = 50;  // resumed at step 50: 10 steps in 120 s, 40 to go
  s.elapsed_s = 120;
  p.update(s);
  EXPECT_THAT(out.str(), HasSubstr("elapsed 02:00 | ETA 08:00"));
}

TEST(Progress, PlainPrintsOneLinePerLoggingStepAndNoControlCharacters) {
  std::ostringstream out;
  ProgressReporter p(out, ProgressMode::Plain, 10);
  for (int64_t step = 1; step <= 100; ++step) p.update(state_at(step));
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\033'), std::string::npos);
  EXPECT_THAT(text, HasSubstr("epoch 2/3 step 10/100 (10%) | loss 1.2346"));
  EXPECT_THAT(text, HasSubstr("step 100/100 (100%)"));
}

TEST(Progress, NonePrintsNothing) {
  std::ostringstream out;
  ProgressReporter p(out, ProgressMode::None, 1);
  p.update(state_at(1));
  p.message("x");
  p.finish();
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace mlxft
