#include "mlxft/train/step.h"

#include <cmath>

#include "mlxft/train/clip.h"
#include "mlxft/util/prng.h"

namespace mlxft {

MicroBatchLoss micro_batch_loss(const Objective& objective) {
  return [&objective](const std::vector<mx::array>& params, const Batch& batch, const mx::array& key) {
    return objective.sums(params, batch, key);
  };
}

namespace {

// Sums the step's gradient sums, totals and metrics over the ranks (data-parallel).
void sum_across(const SumAcrossRanks& across, std::vector<mx::array>& grad_sum, float& nll, float& weight,
                float& tokens, std::map<std::string, MetricTotal>& metrics) {
  std::vector<double> totals{nll, weight, tokens};
  for (const auto& [name, t] : metrics) totals.insert(totals.end(), {t.sum, t.count});
  across(grad_sum, totals);
  nll = static_cast<float>(totals[0]);
  weight = static_cast<float>(totals[1]);
  tokens = static_cast<float>(totals[2]);
  size_t k = 3;
  for (auto& [name, t] : metrics) {
    t.sum = totals[k++];
    t.count = totals[k++];
  }
}

}  // namespace

Gradients accumulate_gradients(const MicroBatchLoss& loss_fn, const std::vector<mx::array>& params,
                               const std::vector<Batch>& micro_batches,
                               const std::vector<mx::array>& dropout_keys, const std::vector<bool>& counts,
                               const SumAcrossRanks& across) {
  std::vector<int> argnums(params.size());
  for (size_t i = 0; i < params.size(); ++i) argnums[i] = static_cast<int>(i);

  std::vector<mx::array> grad_sum;
  mx::array nll_total(0.0f), weight_total(0.0f), token_total(0.0f);
  Gradients out;
  for (size_t micro = 0; micro < micro_batches.size(); ++micro) {
    const Batch& batch = micro_batches[micro];
    std::vector<std::string> names;
    auto fn = [&](const std::vector<mx::array>& p) {
      ObjectiveSums s = loss_fn(p, batch, dropout_keys.at(micro));
      std::vector<mx::array> v{s.loss.nll_sum, s.loss.tokens, s.trained_tokens.value_or(s.loss.tokens)};
      names.clear();
      for (auto& [name, m] : s.metrics) {
        names.push_back(name);
        v.push_back(m.sum);
        v.push_back(m.count);
      }
      if (!counts.empty() && !counts[micro]) {
        for (auto& x : v) x = mx::multiply(x, mx::array(0.0f));
      }
      return v;
    };
    auto [values, grads] = mx::value_and_grad(fn, argnums)(params);
    nll_total = mx::add(nll_total, values[0]);
    weight_total = mx::add(weight_total, values[1]);
    token_total = mx::add(token_total, values[2]);
    if (grad_sum.empty()) {
      grad_sum = grads;
    } else {
      for (size_t i = 0; i < grads.size(); ++i) grad_sum[i] = mx::add(grad_sum[i], grads[i]);
    }
    std::vector<mx::array> to_eval = grad_sum;
    to_eval.insert(to_eval.end(), {nll_total, weight_total, token_total});
    to_eval.insert(to_eval.end(), values.begin() + 3, values.end());
    mx::eval(to_eval);
    for (size_t k = 0; k < names.size(); ++k) {
      MetricTotal& t = out.metrics[names[k]];
      t.sum += static_cast<double>(mx::astype(values[3 + 2 * k], mx::float32).item<float>());
      t.count += static_cast<double>(mx::astype(values[4 + 2 * k], mx::float32).item<float>());
    }
  }
  float nll = nll_total.item<float>(), weight = weight_total.item<float>(),
        tokens = token_total.item<float>();
  if (across) sum_across(across, grad_sum, nll, weight, tokens, out.metrics);
  out.weight = weight;
  out.tokens = static_cast<int64_t>(tokens);
  out.loss = weight > 0 ? static_cast<double>(nll) / weight : std::nan("");
  const mx::array inv = mx::array(weight > 0 ? 1.0f / weight : 0.0f);
  for (auto& g : grad_sum) out.grads.push_back(mx::multiply(g, inv));
  mx::eval(out.grads);
  return out;
}

mx::array dropout_key(uint64_t seed, int64_t step, int micro) {
  // One SplitMix64 output from a linear mix of the three numbers. SplitMix64::next() adds its
  // increment (the golden-ratio constant) before mixing, so starting from mix - increment gives
  // exactly mix(seed*G + step*C2 + micro*C3): the keys of earlier versions, bit for bit.
  constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
  const uint64_t z = seed * kGolden + static_cast<uint64_t>(step) * 0xBF58476D1CE4E5B9ull +
                     static_cast<uint64_t>(micro) * 0x94D049BB133111EBull;
  return mx::random::key(SplitMix64(z - kGolden).next());
}

UpdateResult apply_update(std::vector<mx::array>& params, Optimizer& optimizer, const Gradients& g, double lr,
                          double max_grad_norm) {
  UpdateResult r;
  if (g.tokens == 0) {
    r.skip_reason = "no trained tokens";
    return r;
  }
  if (!std::isfinite(g.loss)) {
    r.skip_reason = std::isnan(g.loss) ? "nan loss" : "inf loss";
    return r;
  }
  ClipResult clipped = clip_by_global_norm(g.grads, max_grad_norm);
  r.grad_norm = static_cast<double>(clipped.norm.item<float>());
  if (!std::isfinite(r.grad_norm)) {
    r.skip_reason = std::isnan(r.grad_norm) ? "nan gradient norm" : "inf gradient norm";
    return r;
  }
  std::vector<mx::array> updated = optimizer.update(params, clipped.grads, lr);
  std::vector<mx::array> to_eval = updated;
  for (const auto& s : optimizer.state_arrays()) to_eval.push_back(s);
  mx::eval(to_eval);
  params = std::move(updated);
  r.applied = true;
  return r;
}

}  // namespace mlxft
