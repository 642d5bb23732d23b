// Picking the training objective by training.objective: one registry row per objective
// (make_objective.cpp), from which everything below derives.
//
// Contract:
// - objective_names(): the registry's names in order ("sft", "kto"), the choices of
//   training.objective (config/schema.cpp lists them too: a test keeps the two equal).
// - check_objective_shards(recipe, ranks): for a data-parallel run, before anything is written: a
//   Config error naming training.batch_size when batch_size / ranks leaves a rank's micro-batch
//   fewer rows than the objective needs (KTO: 2, for its KL pairs).
// - check_objective_data(recipe, train, init_adapter): before the model loads, the objective's
//   checks of the training split and of its own keys (KTO: kto.h check_kto_data() and
//   kto_reference_adapter()); returns the warning it logged, "" when none.
// - make_objective(context): the objective over the context's model and adapter layout (KTO: on
//   the training split, its reference adapter loaded). The context's references must outlive it.
// - An unknown name is a Config error naming training.objective (recipe validation refuses it first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mlxft/config/recipe.h"
#include "mlxft/data/example.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/objective/objective.h"

namespace mlxft {

struct ObjectiveContext {
  const Recipe& recipe;
  const Model& model;
  const LoraAdapters& layout;         // the trained adapters' layout
  const std::vector<Example>& train;  // the training split (batches index into it)
  const std::string& init_adapter;    // the --init-adapter flag ("" when not given)
};

const std::vector<std::string>& objective_names();
void check_objective_shards(const Recipe& recipe, int ranks);
std::string check_objective_data(const Recipe& recipe, const std::vector<Example>& train,
                                 const std::string& init_adapter);
std::unique_ptr<Objective> make_objective(const ObjectiveContext& context);

}  // namespace mlxft
