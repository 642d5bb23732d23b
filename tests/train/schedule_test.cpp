// Learning-rate schedules at chosen steps, against the formulas worked out by hand.
#include "mlxft/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mlxft/util/error.h"

using mlxft::LrSchedule;

TEST(TrainSchedule, WarmupRisesLinearlyToLr) {
  LrSchedule s{"cosine", 1e-3, 10, 110, 0.1};
  EXPECT_DOUBLE_EQ(s.lr_at(1), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 5e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1e-3);
}

TEST(TrainSchedule, CosineEndsAtMinLrRatio) {
  LrSchedule s{"cosine", 1e-3, 10, 110, 0.1};
  // halfway through the decay: min + (lr - min) / 2
  EXPECT_NEAR(s.lr_at(60), 1e-4 + 0.9e-3 * 0.5, 1e-15);
  EXPECT_NEAR(s.lr_at(35), 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(std::numbers::pi * 0.25)), 1e-15);
  EXPECT_NEAR(s.lr_at(110), 1e-4, 1e-15);
  EXPECT_NEAR(s.lr_at(500), 1e-4, 1e-15);  // past the end: stays at the last value
}

TEST(TrainSchedule, LinearDecay) {
  LrSchedule s{"linear", 2e-4, 0, 100, 0.0};
  EXPECT_NEAR(s.lr_at(1), 2e-4 * 0.99, 1e-15);
  EXPECT_NEAR(s.lr_at(50), 1e-4, 1e-15);
  EXPECT_NEAR(s.lr_at(100), 0.0, 1e-15);
}

TEST(TrainSchedule, ConstantAfterWarmup) {
  LrSchedule s{"constant", 3e-4, 4, 100, 0.1};
  EXPECT_DOUBLE_EQ(s.lr_at(2), 1.5e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 3e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(100), 3e-4);
}

TEST(TrainSchedule, WarmupLongerThanRunNeverExceedsLr) {
  LrSchedule s{"cosine", 1e-3, 50, 20, 0.1};
  EXPECT_DOUBLE_EQ(s.lr_at(20), 1e-3 * 20 / 50);
}

TEST(TrainSchedule, ValidationNamesTheKey) {
  LrSchedule s{"exponential", 1e-3, 0, 10, 0.1};
  try {
    mlxft::validate_schedule(s);
    FAIL() << "expected a Config error";
  } catch (const mlxft::Error& e) {
    EXPECT_EQ(e.where(), "training.lr_scheduler");
  }
  EXPECT_THROW(mlxft::validate_schedule(LrSchedule{"cosine", 1e-3, 0, 0, 0.1}), mlxft::Error);
}
