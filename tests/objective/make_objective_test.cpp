// The objective registry: its names are training.objective's choices, each objective's rank and data
// checks come from its row, and each objective picks its validation sets (evaluate()).
#include "mlxft/objective/make_objective.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mlxft/config/schema.h"
#include "mlxft/objective/kto.h"
#include "mlxft/objective/sft.h"
#include "mlxft/util/error.h"

using ::testing::HasSubstr;

namespace mlxft {
namespace {

Example labelled(int64_t index, bool label) {
  Example e;
  e.index = index;
  e.label = label;
  e.ids = {1, 2};
  e.mask = {0, 1};
  return e;
}

TEST(ObjectiveRegistry, ItsNamesAreTheRecipeChoices) {
  const FieldSpec* field = find_field("training", "objective");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ(field->constraint.choices, objective_names());
  EXPECT_EQ(objective_names(), (std::vector<std::string>{"sft", "kto"}));
}

TEST(ObjectiveRegistry, RanksGetTheRowsTheirObjectiveNeeds) {
  Recipe r;
  r.training.batch_size = 2;
  EXPECT_NO_THROW(check_objective_shards(r, 2));  // sft: one row per rank is enough
  r.training.objective = "kto";
  EXPECT_NO_THROW(check_objective_shards(r, 1));
  try {
    check_objective_shards(r, 2);
    FAIL() << "kto with one row per rank must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_THAT(e.what(), HasSubstr("kto pairs examples within a rank's micro-batch (the KL reference "
                                    "point), but 2 over 2 ranks leaves 1 per rank"));
    EXPECT_THAT(e.hint(), HasSubstr("at least 4"));
  }
}

TEST(ObjectiveRegistry, TheDataCheckIsTheObjectives) {
  Recipe r;
  const std::vector<Example> one_label = {labelled(0, true), labelled(1, true)};
  EXPECT_EQ(check_objective_data(r, one_label, ""), "");  // sft checks nothing
  r.training.objective = "kto";
  EXPECT_THROW((void)check_objective_data(r, one_label, ""), Error);
  const std::vector<Example> both = {labelled(0, true), labelled(1, false)};
  EXPECT_EQ(check_objective_data(r, both, ""), "");
  r.kto.reference = "init_adapter";  // and no init adapter: the reference check runs too
  EXPECT_THROW((void)check_objective_data(r, both, ""), Error);
}

TEST(ObjectiveEvaluate, SftTakesTheWholeSetAndKtoTheDesirableOnesWithPerLabelLosses) {
  const Model model;
  const LoraAdapters layout;
  const std::vector<Example> valid = {labelled(0, true), labelled(1, false), labelled(2, true)};
  std::vector<size_t> sizes;
  const SetLoss loss_over = [&](const std::vector<Example>& set) {
    sizes.push_back(set.size());
    EvalResult r;
    r.loss = set.front().label.value_or(true) ? 1.0 : 2.0;
    return r;
  };
  EXPECT_EQ(SftObjective(model, layout).evaluate(loss_over, valid).loss, 1.0);
  EXPECT_EQ(sizes, (std::vector<size_t>{3}));

  sizes.clear();
  const EvalResult kto = KtoObjective(model, layout, valid).evaluate(loss_over, valid);
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 1}));
  EXPECT_EQ(kto.loss, 1.0);
  EXPECT_EQ(kto.extra.at("loss_desirable"), 1.0);
  EXPECT_EQ(kto.extra.at("loss_undesirable"), 2.0);

  sizes.clear();
  const std::vector<Example> undesirable = {labelled(0, false)};
  EXPECT_EQ(KtoObjective(model, layout, undesirable).evaluate(loss_over, undesirable).extra.size(), 0u);
  EXPECT_EQ(sizes, (std::vector<size_t>{1}));  // no desirable example: the whole set
}

}  // namespace
}  // namespace mlxft
