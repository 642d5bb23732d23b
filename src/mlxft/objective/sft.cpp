// The SFT objective (see sft.h).
#include "mlxft/objective/sft.h"

#include "mlxft/kernels/fused_head_ce.h"

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
  if (const auto head = kernel_weight(model_, lm_head_name(model_))) {
    return fused_masked_cross_entropy(hidden, head, batch.targets, batch.mask, options_.label_smoothing);
  }
  return masked_cross_entropy(lm_head(model_, hidden), batch.targets, batch.mask, options_.label_smoothing);
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
