// KTO (Kahneman-Tversky Optimisation, Ethayarajh et al. 2024) with LoRA: learning from unpaired
// desirable and undesirable examples, TRL's KTOTrainer formulation (loss_type "kto").
//
// Contract:
// - The completion of an example is its trained tokens (the assistant spans of the loss mask); its
//   sequence log-probability is the sum of log p(token) over them. The policy is the base model with
//   the adapters (dropout drawn from the key), the reference the same base without them, or with a
//   frozen reference adapter (the SFT adapter KTO starts from; no second copy of the base weights), computed
//   in the same call under stop_gradient: a pure function of the batch, so accumulation, checkpoints and
//   exact resume work as for SFT.
// - r = log p_policy - log p_reference. The KL reference point is the mean of the same log-ratio over
//   mismatched pairs of the micro-batch (kl_pairs: the prompt of row i followed by the completion of
//   row i-1, TRL's rotation by one), detached and clamped at 0.
// - Per sequence: desirable w_d (1 - sigmoid(beta (r - kl))), undesirable w_u (1 - sigmoid(beta (kl - r))).
//   sums() returns their sum with weight = number of sequences (the trainer's division gives TRL's mean
//   over the batch, and over all sequences of an accumulated step), trained_tokens = completion tokens,
//   and the metrics kto_loss, kl (mean over micro-batches), rewards_chosen / rewards_rejected (mean of
//   beta r over the desirable / undesirable sequences) and rewards_margin (their difference per
//   micro-batch that has both, averaged).
// - Every row needs a label (Example::label). training.batch_size 1 is refused by config validation
//   (as TRL refuses it); a lone row (the short last batch of an epoch) gets kl = 0.
// - evaluate(): the token-weighted loss over the desirable validation examples (what best checkpoint
//   and early stopping follow), with loss_desirable and loss_undesirable as extra losses; over the
//   whole set when it has no desirable example.
// - check_kto_run() (the registry's data check, before the model loads): check_kto_data(), then
//   kto_reference_adapter(). make_kto_objective(context) builds it from the kto section and
//   training.gradient_checkpointing, its reference the base or the base with the init adapter
//   (loaded as given, so a resume gets the same reference).
#pragma once

#include <optional>
#include <vector>

#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/objective/make_objective.h"
#include "mlxft/objective/objective.h"

namespace mlxft {

struct KtoOptions {
  double beta = 0.1;
  double desirable_weight = 1.0;
  double undesirable_weight = 1.0;
  bool checkpoint_layers = false;
};

// Sum over each row's trained positions of log p(target | prefix), from final hidden states: [B] float32.
mx::array sequence_log_probs(const Model& model, const mx::array& hidden, const Batch& batch,
                             bool training = true);

// The mismatched pairs of a batch of examples (in row order): row i = the prompt of rows[i] (its ids
// before the first trained token) followed by the completion of rows[i-1 mod n] (its ids and mask from
// its first trained token on). Labels and indices are those of rows[i].
std::vector<Example> kl_pairs(const std::vector<const Example*>& rows);

// The KTO loss terms from sequence log-probabilities (policy, reference: [B]; kl_*: over the
// mismatched pairs, any equal length).
struct KtoTerms {
  mx::array loss_sum;             // sum of the weighted per-sequence losses (differentiable)
  mx::array kl;                   // the detached, clamped reference point
  mx::array chosen_reward_sum;    // sum of beta r over desirable rows (detached)
  mx::array rejected_reward_sum;  // over undesirable rows
  int chosen = 0;
  int rejected = 0;
};
KtoTerms kto_terms(const mx::array& policy, const mx::array& reference, const mx::array& kl_policy,
                   const mx::array& kl_reference, const std::vector<bool>& desirable,
                   const KtoOptions& options);

class KtoObjective final : public Objective {
 public:
  // `examples` are the rows the batches index into by Example::index (the training split); they and
  // the model must outlive the objective.
  // `reference`, when given, is an adapter the reference model applies (frozen; e.g. the SFT adapter
  // training started from); without it the reference is the base alone.
  KtoObjective(const Model& model, LoraAdapters layout, const std::vector<Example>& examples,
               KtoOptions options = {}, std::optional<LoraAdapters> reference = {});
  std::string name() const override { return "kto"; }
  ObjectiveSums sums(const std::vector<mx::array>& params, const Batch& batch,
                     const mx::array& dropout_key) const override;
  EvalResult evaluate(const SetLoss& loss_over, const std::vector<Example>& valid) const override;

 private:
  // The policy's (base + `lora`, dropout from `key`); without a gradient unless `grad`.
  mx::array log_probs(const Batch& batch, const LoraAdapters& lora, const mx::array& key, bool grad) const;
  mx::array reference_log_probs(const Batch& batch) const;

  const Model& model_;
  LoraAdapters layout_;
  std::unordered_map<int64_t, const Example*> by_index_;
  KtoOptions options_;
  std::optional<LoraAdapters> reference_;
};

// Throws a Config error unless `train` has desirable and undesirable examples; warns (and returns the
// message) when desirable_weight x n_d / (undesirable_weight x n_u) is outside [1, 4/3], as TRL warns.
std::string check_kto_data(const std::vector<Example>& train, const Recipe& recipe);

// The adapter directory KTO's reference model applies (kto.reference; init_adapter_flag is --init-adapter,
// else training.init_adapter): "" for the base alone. A Config error naming kto.reference when it asks
// for init_adapter and training starts from none.
std::string kto_reference_adapter(const Recipe& recipe, const std::string& init_adapter_flag);

std::string check_kto_run(const Recipe& recipe, const std::vector<Example>& train,
                          const std::string& init_adapter);
std::unique_ptr<Objective> make_kto_objective(const ObjectiveContext& context);

}  // namespace mlxft
