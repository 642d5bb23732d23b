#include "mlxft/app/finish.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/app/final_exports.h"
#include "mlxft/eval/evaluate.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/report/run_report.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

std::vector<std::string> parameter_names(const LoraAdapters& a) {
  std::vector<std::string> names;
  for (const auto& [path, pair] : a.modules) {
    for (const auto& tensor : adapter_tensors(a.config.kind)) names.push_back(path + "." + tensor.peft);
  }
  return names;
}

int run_eval_only(const TrainRun& run, LoraAdapters adapters) {
  const std::string& resume = run.request.resume;
  if (!resume.empty()) {
    const CheckpointStore store(run.out / "checkpoints");
    const auto found = store.resolve(resume);
    if (!found) throw Error(ErrorKind::Checkpoint, store.root().string(), "no valid checkpoint to evaluate");
    std::vector<mx::array> flat;
    for (const auto& name : parameter_names(adapters)) {
      auto it = found->second.adapters.find(name);
      if (it == found->second.adapters.end()) {
        throw Error(ErrorKind::Checkpoint, found->first.dir.string(),
                    fmt::format("the checkpoint has no adapter {}", name),
                    "evaluate with the LoRA settings the checkpoint was trained with");
      }
      flat.push_back(it->second);
    }
    adapters.assign(flat);
  }
  const Split& split = run.inputs.split;
  if (split.valid.empty())
    throw Error(ErrorKind::Data, "data.valid_split", "no validation example to evaluate on");
  const EvalResult e = evaluate(run.model, &adapters, split.valid, run.eval_batch_size());
  fmt::print("validation:  loss {:.4f}, perplexity {:.3f}, {} trained tokens\n", e.loss, e.perplexity,
             e.tokens);
  return 0;
}

int finish_run(const TrainRun& run, LoraAdapters adapters, const std::vector<mx::array>& params,
               const TrainOutcome& outcome) {
  adapters.assign(params);
  const std::vector<std::string> exports =
      write_final_exports(run.out / "final_model", run.recipe.model.path, adapters,
                          run.model.config.num_hidden_layers, run.recipe.output.export_formats,
                          run.inputs.catalogue.get());
  try {
    const RunReport report = build_run_report(run.out, run_report_options(run.out));
    spdlog::info("report: {}", report.html.string());
  } catch (const std::exception& e) {
    spdlog::warn("the run report was not written: {}", e.what());
  }
  const Split& split = run.inputs.split;
  if (!split.test.empty()) {
    const EvalResult t = evaluate(run.model, &adapters, split.test, run.eval_batch_size());
    fmt::print("test: loss {:.4f}, perplexity {:.3f} on {} examples ({} trained tokens)\n", t.loss,
               t.perplexity, split.test.size(), t.tokens);
  }
  fmt::print("done: {} optimizer steps{}; final model in {} ({})\n", outcome.step,
             outcome.early_stopped ? " (early stopping)" : "", (run.out / "final_model").string(),
             fmt::join(exports, ", "));
  if (outcome.last_eval) {
    fmt::print("final validation loss {:.4f} (perplexity {:.3f}); best {:.4f} at step {}\n",
               outcome.last_eval->loss, outcome.last_eval->perplexity,
               outcome.best_eval_loss.value_or(std::nan("")), outcome.best_step.value_or(0));
  }
  return 0;
}

}  // namespace mlxft
