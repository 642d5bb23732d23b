// KTO's pieces that TRL parity (tests/parity/kto_trl_test.cpp) does not isolate: the mismatched pairs,
// the clamp of the KL point, the weights, the per-label metrics; and the configuration errors a KTO
// recipe or dataset gets before any work (validate_recipe, check_kto_data).
#include "mlxft/objective/kto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "mlxft/config/validate.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
using ::testing::HasSubstr;

namespace mlxft {
namespace {

Example example(int64_t index, std::vector<int32_t> prompt, std::vector<int32_t> answer, bool label) {
  Example e;
  e.index = index;
  e.label = label;
  e.ids = prompt;
  e.ids.insert(e.ids.end(), answer.begin(), answer.end());
  e.mask.assign(prompt.size(), 0);
  e.mask.insert(e.mask.end(), answer.size(), 1);
  return e;
}

mx::array vec(std::vector<float> v) {
  return mx::array(v.data(), {static_cast<int>(v.size())}, mx::float32);
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

TEST(KtoPairs, EachPromptGetsThePreviousRowsCompletion) {
  const Example a = example(10, {1, 2, 3}, {4, 5}, true);
  const Example b = example(11, {6, 7}, {8, 9, 10}, false);
  Example c = example(12, {11}, {12}, true);
  c.ids.push_back(13);  // a completion with an untrained token inside (a tool result) keeps its mask
  c.mask.push_back(0);
  const std::vector<Example> pairs = kl_pairs({&a, &b, &c});
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].ids, (std::vector<int32_t>{1, 2, 3, 12, 13}));  // prompt a + completion c
  EXPECT_EQ(pairs[0].mask, (std::vector<uint8_t>{0, 0, 0, 1, 0}));
  EXPECT_EQ(pairs[1].ids, (std::vector<int32_t>{6, 7, 4, 5}));  // prompt b + completion a
  EXPECT_EQ(pairs[1].mask, (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(pairs[2].ids, (std::vector<int32_t>{11, 8, 9, 10}));  // prompt c + completion b
  EXPECT_EQ(pairs[2].index, 12);
  EXPECT_EQ(pairs[2].label, std::optional<bool>(true));
}

TEST(KtoTerms, MatchTheFormulaWithWeightsAndClampTheKlAtZero) {
  const KtoOptions o{.beta = 0.5, .desirable_weight = 2.0, .undesirable_weight = 3.0};
  const mx::array policy = vec({-3.0f, -5.0f}), reference = vec({-4.0f, -4.5f});  // r = 1, -0.5
  // KL point: mean(-1 - -2, -2 - -2.5) = 0.75
  KtoTerms t = kto_terms(policy, reference, vec({-1.0f, -2.0f}), vec({-2.0f, -2.5f}), {true, false}, o);
  EXPECT_NEAR(t.kl.item<float>(), 0.75, 1e-6);
  const double want = 2.0 * (1 - sigmoid(0.5 * (1.0 - 0.75))) + 3.0 * (1 - sigmoid(0.5 * (0.75 + 0.5)));
  EXPECT_NEAR(t.loss_sum.item<float>(), want, 1e-6);
  EXPECT_NEAR(t.chosen_reward_sum.item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(t.rejected_reward_sum.item<float>(), -0.25, 1e-6);
  EXPECT_EQ(t.chosen, 1);
  EXPECT_EQ(t.rejected, 1);

  // A negative mismatched log-ratio is clamped: the reference point is 0, not -0.75.
  t = kto_terms(policy, reference, vec({-2.0f, -2.5f}), vec({-1.0f, -2.0f}), {true, false}, o);
  EXPECT_EQ(t.kl.item<float>(), 0.0f);
  const double clamped = 2.0 * (1 - sigmoid(0.5 * 1.0)) + 3.0 * (1 - sigmoid(0.5 * 0.5));
  EXPECT_NEAR(t.loss_sum.item<float>(), clamped, 1e-6);
}

TEST(KtoTerms, TheKlPointCarriesNoGradient) {
  const KtoOptions o;
  auto f = [&](const std::vector<mx::array>& p) {
    return kto_terms(vec({-3.0f}), vec({-3.0f}), p[0], vec({-2.0f}), {true}, o).loss_sum;
  };
  const mx::array g = mx::grad([&](const mx::array& x) { return f({x}); })(vec({-1.0f}));
  EXPECT_EQ(mx::max(mx::abs(g)).item<float>(), 0.0f);
}

TEST(KtoConfig, ARecipeThatCannotServeKtoNamesTheKey) {
  Recipe r;
  r.data.dataset_path = "d.jsonl";
  r.model.path = "m";
  r.output.output_dir = "o";
  r.training.objective = "kto";
  r.training.batch_size = 1;
  const std::vector<std::string> errors = validate_recipe(r);  // labels: desirable (the default)
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("data.labels"));
  EXPECT_THAT(errors[0], HasSubstr("set data.labels: all"));
  EXPECT_THAT(errors[1], HasSubstr("training.batch_size must be >= 2"));
  r.data.labels = "all";
  r.training.batch_size = 2;
  EXPECT_TRUE(validate_recipe(r).empty());
  r.training.objective = "dpo";
  ASSERT_EQ(validate_recipe(r).size(), 1u);
  EXPECT_THAT(validate_recipe(r)[0], HasSubstr("training.objective"));
}

TEST(KtoConfig, DataWithOneLabelIsAConfigErrorAndAnImbalanceIsWarnedWithWeights) {
  Recipe r;
  r.data.dataset_path = "seed.jsonl";
  std::vector<Example> train;
  for (int i = 0; i < 6; ++i) train.push_back(example(i, {1}, {2}, true));
  try {
    (void)check_kto_data(train, r);
    FAIL() << "no undesirable example must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_THAT(e.what(), HasSubstr("training.objective"));
    EXPECT_THAT(e.what(), HasSubstr("6 desirable and 0 undesirable"));
  }
  train.push_back(example(6, {1}, {2}, false));
  train.push_back(example(7, {1}, {2}, false));
  // 6 desirable vs 2 undesirable: ratio 3, outside [1, 4/3]; either weight alone can fix it.
  const std::string warning = check_kto_data(train, r);
  EXPECT_THAT(warning, HasSubstr("ratio 3.000"));
  EXPECT_THAT(warning, HasSubstr("kto.desirable_weight in [0.33, 0.44]"));
  EXPECT_THAT(warning, HasSubstr("kto.undesirable_weight in [2.25, 3.00]"));
  r.kto.undesirable_weight = 2.5;  // 6 / 5 = 1.2: balanced
  EXPECT_EQ(check_kto_data(train, r), "");
}

TEST(KtoConfig, TheReferenceAdapterFollowsKtoReferenceAndAMissingOneNamesTheKey) {
  Recipe r;
  EXPECT_EQ(kto_reference_adapter(r, ""), "");  // auto, no init adapter: the base
  r.training.init_adapter = "sft/peft";
  EXPECT_EQ(kto_reference_adapter(r, ""), "sft/peft");              // auto: the adapter training starts from
  EXPECT_EQ(kto_reference_adapter(r, "other/peft"), "other/peft");  // --init-adapter wins
  r.kto.reference = "base";
  EXPECT_EQ(kto_reference_adapter(r, "other/peft"), "");
  r.kto.reference = "init_adapter";
  r.training.init_adapter.clear();
  try {
    (void)kto_reference_adapter(r, "");
    FAIL() << "init_adapter without an init adapter must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_THAT(e.what(), HasSubstr("kto.reference"));
    EXPECT_THAT(e.what(), HasSubstr("training.init_adapter"));
  }
}

}  // namespace
}  // namespace mlxft
