// What a KTO run needs around the loss (see kto.h): the data check, the reference adapter, the
// factory and the per-label evaluation.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/objective/kto.h"
#include "mlxft/util/error.h"

namespace mlxft {

std::string kto_reference_adapter(const Recipe& recipe, const std::string& init_adapter_flag) {
  const std::string& init = init_adapter_flag.empty() ? recipe.training.init_adapter : init_adapter_flag;
  const std::string& mode = recipe.kto.reference;
  if (mode == "init_adapter" && init.empty()) {
    throw Error(ErrorKind::Config, "kto.reference",
                "kto.reference is init_adapter, but training starts from no adapter",
                "set training.init_adapter (or --init-adapter) to the SFT adapter, or kto.reference: base");
  }
  return mode == "base" ? std::string() : init;
}

std::string check_kto_data(const std::vector<Example>& train, const Recipe& recipe) {
  int64_t n_d = 0, n_u = 0;
  for (const Example& e : train) {
    if (e.label && *e.label) ++n_d;
    if (e.label && !*e.label) ++n_u;
  }
  if (n_d == 0 || n_u == 0) {
    throw Error(
        ErrorKind::Config, "training.objective",
        fmt::format("kto needs desirable and undesirable training examples; {} has {} desirable and {} "
                    "undesirable (label: false)",
                    recipe.data.dataset_path, n_d, n_u),
        "use training.objective: sft, or data with both labels (and data.labels: all)");
  }
  const KtoSection& k = recipe.kto;
  const double ratio =
      (k.desirable_weight * static_cast<double>(n_d)) / (k.undesirable_weight * static_cast<double>(n_u));
  if (ratio >= 1.0 && ratio <= 4.0 / 3.0) return {};
  // Either weight alone brings the ratio into [1, 4/3] (TRL's advice, Eq. 8 of the KTO paper).
  const double d_lo = k.undesirable_weight * static_cast<double>(n_u) / static_cast<double>(n_d);
  const double u_hi = k.desirable_weight * static_cast<double>(n_d) / static_cast<double>(n_u);
  const std::string msg = fmt::format(
      "kto: {} desirable and {} undesirable training examples with kto.desirable_weight {} and "
      "kto.undesirable_weight {} give a weighted ratio {:.3f}, outside [1, 4/3]; balanced would be EITHER "
      "kto.desirable_weight in [{:.2f}, {:.2f}] OR kto.undesirable_weight in [{:.2f}, {:.2f}]",
      n_d, n_u, k.desirable_weight, k.undesirable_weight, ratio, d_lo, d_lo * 4.0 / 3.0, u_hi * 3.0 / 4.0,
      u_hi);
  spdlog::warn("{}", msg);
  return msg;
}

std::string check_kto_run(const Recipe& recipe, const std::vector<Example>& train,
                          const std::string& init_adapter) {
  std::string warning = check_kto_data(train, recipe);
  (void)kto_reference_adapter(recipe, init_adapter);  // a Config error before the model loads
  return warning;
}

std::unique_ptr<Objective> make_kto_objective(const ObjectiveContext& context) {
  const Recipe& r = context.recipe;
  const KtoSection& k = r.kto;
  std::optional<LoraAdapters> reference;
  const std::string path = kto_reference_adapter(r, context.init_adapter);
  if (!path.empty()) {
    reference = load_adapter(path);  // the file as it was given: the same reference after a resume
    spdlog::info("kto: the reference model is the base with {} (frozen)", path);
  }
  return std::make_unique<KtoObjective>(
      context.model, context.layout, context.train,
      KtoOptions{k.beta, k.desirable_weight, k.undesirable_weight, r.training.gradient_checkpointing},
      std::move(reference));
}

EvalResult KtoObjective::evaluate(const SetLoss& loss_over, const std::vector<Example>& valid) const {
  std::vector<Example> desirable, undesirable;
  for (const Example& e : valid) (e.label.value_or(true) ? desirable : undesirable).push_back(e);
  if (desirable.empty()) return loss_over(valid);
  EvalResult r = loss_over(desirable);
  r.extra["loss_desirable"] = r.loss;
  if (!undesirable.empty()) r.extra["loss_undesirable"] = loss_over(undesirable).loss;
  return r;
}

}  // namespace mlxft
