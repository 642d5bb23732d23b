// The SFT objective (see sft.h).
#include "mlxft/objective/sft.h"

namespace mx = mlx::core;

namespace mlxft {

SftObjective::SftObjective(const Model& model, LoraAdapters layout, SftOptions options)
    : model_(model), layout_(std::move(layout)), options_(options) {}

LossSum SftObjective::loss(const std::vector<mx::array>& params, const Batch& batch,
                           const mx::array& dropout_key) const {
  LoraAdapters adapters = layout_;
  adapters.assign(params);
  ForwardOptions fo;
  fo.lora = &adapters;
  fo.train = true;
  fo.dropout_key = dropout_key;
  fo.checkpoint_layers = options_.checkpoint_layers;
  const mx::array hidden = forward_hidden(model_, batch.inputs, fo);
  return masked_sum(token_nll(model_, hidden, batch, {.label_smoothing = options_.label_smoothing}),
                    batch.mask);
}

ObjectiveSums SftObjective::sums(const std::vector<mx::array>& params, const Batch& batch,
                                 const mx::array& dropout_key) const {
  return ObjectiveSums(loss(params, batch, dropout_key));
}

std::string check_sft_data(const Recipe&, const std::vector<Example>&, const std::string&) {
  return {};
}

std::unique_ptr<Objective> make_sft_objective(const ObjectiveContext& context) {
  const TrainingSection& t = context.recipe.training;
  return std::make_unique<SftObjective>(
      context.model, context.layout,
      SftOptions{t.gradient_checkpointing, static_cast<float>(t.label_smoothing)});
}

}  // namespace mlxft
