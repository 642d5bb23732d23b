#include "mlxft/objective/kto.h"

#include <fmt/format.h>

#include "mlxft/data/batching.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

namespace {

// Index of the first trained token (the end of the prompt); ids.size() when nothing is trained.
size_t completion_start(const Example& e) {
  size_t t = 0;
  while (t < e.mask.size() && e.mask[t] == 0) ++t;
  return t;
}

mx::array scalar(double v) {
  return mx::array(static_cast<float>(v));
}

}  // namespace

mx::array sequence_log_probs(const Model& model, const mx::array& hidden, const Batch& batch, bool training) {
  const mx::array nll = token_nll(model, hidden, batch, {.training = training});
  return mx::negative(mx::sum(mx::multiply(nll, mx::astype(batch.mask, mx::float32)), 1));
}

std::vector<Example> kl_pairs(const std::vector<const Example*>& rows) {
  const size_t n = rows.size();
  std::vector<Example> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Example& prompt = *rows[i];
    const Example& answer = *rows[(i + n - 1) % n];
    const size_t p = completion_start(prompt);
    const size_t c = completion_start(answer);
    Example e;
    e.index = prompt.index;
    e.label = prompt.label;
    e.ids.assign(prompt.ids.begin(), prompt.ids.begin() + static_cast<std::ptrdiff_t>(p));
    e.mask.assign(p, 0);
    e.ids.insert(e.ids.end(), answer.ids.begin() + static_cast<std::ptrdiff_t>(c), answer.ids.end());
    e.mask.insert(e.mask.end(), answer.mask.begin() + static_cast<std::ptrdiff_t>(c), answer.mask.end());
    out.push_back(std::move(e));
  }
  return out;
}

KtoTerms kto_terms(const mx::array& policy, const mx::array& reference, const mx::array& kl_policy,
                   const mx::array& kl_reference, const std::vector<bool>& desirable, const KtoOptions& o) {
  const int n = static_cast<int>(desirable.size());
  if (policy.size() != desirable.size() || reference.size() != desirable.size() ||
      kl_policy.size() != kl_reference.size()) {
    throw Error(ErrorKind::Training, "kto_terms", "log-probabilities and labels differ in length");
  }
  std::vector<float> is_d(n), is_u(n);
  KtoTerms t{mx::array(0.0f), mx::array(0.0f), mx::array(0.0f), mx::array(0.0f)};
  for (int i = 0; i < n; ++i) {
    is_d[i] = desirable[i] ? 1.0f : 0.0f;
    is_u[i] = 1.0f - is_d[i];
    (desirable[i] ? t.chosen : t.rejected) += 1;
  }
  const mx::array d(is_d.data(), {n}, mx::float32), u(is_u.data(), {n}, mx::float32);
  t.kl = mx::maximum(mx::stop_gradient(mx::mean(mx::subtract(kl_policy, kl_reference))), mx::array(0.0f));
  const mx::array r = mx::subtract(policy, reference);
  const mx::array beta = scalar(o.beta);
  const mx::array chosen_loss =
      mx::subtract(mx::array(1.0f), mx::sigmoid(mx::multiply(beta, mx::subtract(r, t.kl))));
  const mx::array rejected_loss =
      mx::subtract(mx::array(1.0f), mx::sigmoid(mx::multiply(beta, mx::subtract(t.kl, r))));
  const mx::array weighted =
      mx::add(mx::multiply(mx::multiply(d, scalar(o.desirable_weight)), chosen_loss),
              mx::multiply(mx::multiply(u, scalar(o.undesirable_weight)), rejected_loss));
  t.loss_sum = mx::sum(weighted);
  const mx::array rewards = mx::stop_gradient(mx::multiply(beta, r));
  t.chosen_reward_sum = mx::sum(mx::multiply(rewards, d));
  t.rejected_reward_sum = mx::sum(mx::multiply(rewards, u));
  return t;
}

KtoObjective::KtoObjective(const Model& model, LoraAdapters layout, const std::vector<Example>& examples,
                           KtoOptions options, std::optional<LoraAdapters> reference)
    : model_(model), layout_(std::move(layout)), options_(options), reference_(std::move(reference)) {
  for (const Example& e : examples) by_index_[e.index] = &e;
}

mx::array KtoObjective::log_probs(const Batch& batch, const LoraAdapters& lora, const mx::array& key,
                                  bool grad) const {
  ForwardOptions fo;
  fo.lora = &lora;
  fo.train = true;
  fo.dropout_key = key;
  fo.checkpoint_layers = grad && options_.checkpoint_layers;
  mx::array hidden = forward_hidden(model_, batch.inputs, fo);
  if (!grad) hidden = mx::stop_gradient(hidden);
  const mx::array logps = sequence_log_probs(model_, hidden, batch, grad);
  return grad ? logps : mx::stop_gradient(logps);
}

// The reference model's sequence log-probabilities: the base, with the frozen reference adapter if any
// (no dropout: the reference is evaluated, not trained).
mx::array KtoObjective::reference_log_probs(const Batch& batch) const {
  ForwardOptions fo;
  fo.lora = reference_ ? &*reference_ : nullptr;
  fo.train = false;
  const mx::array hidden = mx::stop_gradient(forward_hidden(model_, batch.inputs, fo));
  return mx::stop_gradient(sequence_log_probs(model_, hidden, batch, false));
}

ObjectiveSums KtoObjective::sums(const std::vector<mx::array>& params, const Batch& batch,
                                 const mx::array& dropout_key) const {
  std::vector<const Example*> rows;
  std::vector<bool> desirable;
  for (int64_t index : batch.example_indices) {
    const auto it = by_index_.find(index);
    if (it == by_index_.end() || !it->second->label) {
      throw Error(ErrorKind::Training, fmt::format("example {}", index),
                  "KTO needs a labelled training example for every batch row", "check data.labels: all");
    }
    rows.push_back(it->second);
    desirable.push_back(*it->second->label);
  }
  LoraAdapters adapters = layout_;
  adapters.assign(params);
  const mx::array policy = log_probs(batch, adapters, dropout_key, true);
  const mx::array reference = reference_log_probs(batch);
  // A lone row (the short last batch of an epoch) has no other completion to pair with: kl = 0, as
  // TRL without the KL term, rather than the row's own log-ratio.
  mx::array kl_policy = mx::zeros({1}), kl_reference = mx::zeros({1});
  if (rows.size() > 1) {
    const std::vector<Example> pairs = kl_pairs(rows);
    std::vector<size_t> all(pairs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    const Batch kl_batch = make_batch(pairs, all);
    const mx::array kl_key = mx::random::split(dropout_key).second;
    kl_policy = log_probs(kl_batch, adapters, kl_key, false);
    kl_reference = reference_log_probs(kl_batch);
  }
  const KtoTerms t = kto_terms(policy, reference, kl_policy, kl_reference, desirable, options_);

  const float n = static_cast<float>(desirable.size());
  std::map<std::string, MetricSum> metrics;
  metrics.emplace("kto_loss", MetricSum{mx::stop_gradient(t.loss_sum), mx::array(n)});
  metrics.emplace("kl", MetricSum{t.kl, mx::array(1.0f)});
  metrics.emplace("rewards_chosen", MetricSum{t.chosen_reward_sum, mx::array(static_cast<float>(t.chosen))});
  metrics.emplace("rewards_rejected",
                  MetricSum{t.rejected_reward_sum, mx::array(static_cast<float>(t.rejected))});
  const bool both = t.chosen > 0 && t.rejected > 0;
  const mx::array margin =
      both ? mx::subtract(mx::divide(t.chosen_reward_sum, mx::array(static_cast<float>(t.chosen))),
                          mx::divide(t.rejected_reward_sum, mx::array(static_cast<float>(t.rejected))))
           : mx::array(0.0f);
  metrics.emplace("rewards_margin", MetricSum{margin, mx::array(both ? 1.0f : 0.0f)});
  return ObjectiveSums(LossSum{t.loss_sum, mx::array(n)}, std::move(metrics),
                       mx::array(static_cast<float>(batch.trained_tokens)));
}

}  // namespace mlxft
