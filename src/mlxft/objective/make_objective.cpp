// The objective registry and what derives from it (see make_objective.h).
#include "mlxft/objective/make_objective.h"

#include <fmt/format.h>

#include "mlxft/objective/kto.h"
#include "mlxft/objective/sft.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

// One objective. Every part is a constructor argument: a row that misses one does not compile.
struct ObjectiveRow {
  using CheckData = std::string (*)(const Recipe&, const std::vector<Example>& train,
                                    const std::string& init_adapter);
  using Make = std::unique_ptr<Objective> (*)(const ObjectiveContext&);
  ObjectiveRow(std::string_view n, int rows, std::string_view why, CheckData check, Make factory)
      : name(n), min_rows_per_rank(rows), rows_reason(why), check_data(check), make(factory) {}

  std::string_view name;
  int min_rows_per_rank;         // rows one rank's micro-batch needs
  std::string_view rows_reason;  // why, after the name: "kto pairs examples ..."
  CheckData check_data;
  Make make;
};

// THE registry: one row per objective, in the order names are listed.
const std::vector<ObjectiveRow>& registry() {
  static const std::vector<ObjectiveRow> rows = {
      {"sft", 1, "", &check_sft_data, &make_sft_objective},
      {"kto", 2, "pairs examples within a rank's micro-batch (the KL reference point)", &check_kto_run,
       &make_kto_objective},
  };
  return rows;
}

const ObjectiveRow& row(const std::string& name) {
  for (const auto& r : registry())
    if (r.name == name) return r;
  throw Error(ErrorKind::Config, "training.objective", fmt::format("unknown objective '{}'", name),
              fmt::format("use one of: {}", fmt::join(objective_names(), ", ")));
}

}  // namespace

const std::vector<std::string>& objective_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& r : registry()) out.emplace_back(r.name);
    return out;
  }();
  return names;
}

void check_objective_shards(const Recipe& recipe, int ranks) {
  const ObjectiveRow& r = row(recipe.training.objective);
  const int per_rank = recipe.training.batch_size / ranks;
  if (per_rank >= r.min_rows_per_rank) return;
  throw Error(ErrorKind::Config, "training.batch_size",
              fmt::format("{} {}, but {} over {} ranks leaves {} per rank", r.name, r.rows_reason,
                          recipe.training.batch_size, ranks, per_rank),
              fmt::format("set training.batch_size to at least {}", r.min_rows_per_rank * ranks));
}

std::string check_objective_data(const Recipe& recipe, const std::vector<Example>& train,
                                 const std::string& init_adapter) {
  return row(recipe.training.objective).check_data(recipe, train, init_adapter);
}

std::unique_ptr<Objective> make_objective(const ObjectiveContext& context) {
  return row(context.recipe.training.objective).make(context);
}

}  // namespace mlxft
