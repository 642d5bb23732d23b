// Start-of-run advice: recipe warnings and the memory-fit check.
#include "mlxft/config/advice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mlxft/util/error.h"

using ::testing::HasSubstr;

namespace mlxft {
namespace {

TEST(RecipeWarnings, SeedRecipeWarnsOnlyAboutItsLongWarmup) {
  const Recipe seed;  // 100 warmup steps of about 338 (the seed's own numbers)
  const auto warnings = recipe_warnings(seed, 338);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("training.warmup_steps: warmup is 100 of 338 optimizer steps (30 %)"));
  EXPECT_TRUE(recipe_warnings(seed, 1000).empty());
  EXPECT_TRUE(recipe_warnings(seed, 0).empty());  // total unknown: no warmup judgement
}

TEST(RecipeWarnings, WarmupRatioCountsAsWarmup) {
  Recipe r;
  r.training.warmup_ratio = 0.25;
  ASSERT_EQ(recipe_warnings(r, 1000).size(), 1u);
  r.training.warmup_ratio = 0.1;
  EXPECT_TRUE(recipe_warnings(r, 1000).empty());
  EXPECT_EQ(warmup_steps_for(r.training, 1001), 101);
}

TEST(RecipeWarnings, HighLearningRateSmallBatchAndNoValidation) {
  Recipe r;
  r.training.learning_rate = 2e-3;
  r.training.batch_size = 1;
  r.training.gradient_accumulation_steps = 2;
  r.data.valid_split = 0.0;
  const auto warnings = recipe_warnings(r, 10000);
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_THAT(warnings[0], HasSubstr("training.learning_rate"));
  EXPECT_THAT(warnings[1], HasSubstr("is 2; an effective batch under 4"));
  EXPECT_THAT(warnings[2], HasSubstr("data.valid_split is 0"));
  r.training.optimizer = "sgd";  // a high rate is normal for SGD
  EXPECT_EQ(recipe_warnings(r, 10000).size(), 2u);
}

TEST(MemoryFit, OverBudgetStopsUnlessForced) {
  Recipe r;
  EXPECT_FALSE(check_memory_fit(r, 10.0, 24.0).has_value());
  try {
    check_memory_fit(r, 30.0, 24.0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Memory);
    EXPECT_THAT(e.what(), HasSubstr("estimated peak memory 30.0 GB, budget 24.0 GB"));
    EXPECT_THAT(e.hint(), HasSubstr("system.force"));
  }
  r.system.force = true;
  const auto warning = check_memory_fit(r, 30.0, 24.0);
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, HasSubstr("starting anyway"));
}

TEST(MemoryFit, NearTheBudgetWarnsAndTheLimitKeyLowersIt) {
  Recipe r;
  EXPECT_THAT(check_memory_fit(r, 23.0, 24.0).value_or(""), HasSubstr("close to the limit"));
  r.system.memory_limit_gb = 16.0;
  EXPECT_THROW(check_memory_fit(r, 20.0, 24.0), Error);
  EXPECT_THROW(check_memory_fit(r, 20.0, 0.0), Error);  // machine memory unknown: the limit is the budget
  r.system.memory_limit_gb = 0.0;
  EXPECT_FALSE(check_memory_fit(r, 1000.0, 0.0).has_value());  // nothing known: no judgement
}

TEST(MemoryFit, AnAddressSpaceLimitIsABudgetTooAndIsNamed) {
  Recipe r;
  r.system.memory_limit_gb = 16.0;
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 24.0, 0.5), 0.5);   // ulimit -v leaves 0.5 GB: the smallest
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 24.0, 0.0), 16.0);  // no address-space limit
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 24.0, 32.0), 16.0);
  try {
    check_memory_fit(r, 0.9, 24.0, 0.5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Memory);
    EXPECT_THAT(e.what(), HasSubstr("budget 0.5 GB (what the address-space limit (ulimit -v) leaves"));
    EXPECT_THAT(e.hint(), HasSubstr("4-bit base"));
  }
  EXPECT_FALSE(check_memory_fit(r, 0.3, 24.0, 0.5).has_value());
}

TEST(MemoryFit, BudgetIsTheSmallerOfMachineAndLimit) {
  Recipe r;
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 24.0), 24.0);
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 0.0), 0.0);
  r.system.memory_limit_gb = 16.0;
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 24.0), 16.0);
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 8.0), 8.0);
  EXPECT_DOUBLE_EQ(memory_budget_gb(r, 0.0), 16.0);
}

}  // namespace
}  // namespace mlxft
