// Supervised fine-tuning with LoRA: the masked cross-entropy of the adapted model on one micro-batch.
//
// Contract:
// - SftObjective holds the frozen model and the adapters' layout (module paths, rank, scale,
//   dropout); sums() places the given flat parameters into that layout (LoraAdapters::assign
//   order), runs the training forward pass (LoRA dropout drawn from the key, optional layer
//   checkpointing) and returns masked_cross_entropy's sum and token count. No metrics.
// - evaluate(): the token-weighted loss over the whole validation set.
// - make_sft_objective(context) builds it from training.gradient_checkpointing and
//   training.label_smoothing; check_sft_data() has nothing to check ("").
// - The model must outlive the objective. This is the one copy of the SFT loss: the train command,
//   the training benchmark and the tests all use it.
#pragma once

#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/objective/make_objective.h"
#include "mlxft/objective/objective.h"

namespace mlxft {

struct SftOptions {
  bool checkpoint_layers = false;  // recompute each block in the backward pass
  float label_smoothing = 0.0f;
};

class SftObjective final : public Objective {
 public:
  SftObjective(const Model& model, LoraAdapters layout, SftOptions options = {});
  std::string name() const override { return "sft"; }
  ObjectiveSums sums(const std::vector<mlx::core::array>& params, const Batch& batch,
                     const mlx::core::array& dropout_key) const override;
  EvalResult evaluate(const SetLoss& loss_over, const std::vector<Example>& valid) const override {
    return loss_over(valid);
  }
  // The loss alone, the trainer's MicroBatchLoss signature.
  LossSum loss(const std::vector<mlx::core::array>& params, const Batch& batch,
               const mlx::core::array& dropout_key) const;

 private:
  const Model& model_;
  LoraAdapters layout_;
  SftOptions options_;
};

std::string check_sft_data(const Recipe& recipe, const std::vector<Example>& train,
                           const std::string& init_adapter);
std::unique_ptr<Objective> make_sft_objective(const ObjectiveContext& context);

}  // namespace mlxft
