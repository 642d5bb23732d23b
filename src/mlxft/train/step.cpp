#include "mlxft/train/step.h"

#include <cmath>

#include "mlxft/train/clip.h"
#include "mlxft/util/prng.h"

namespace mlxft {

MicroBatchLoss micro_batch_loss(const Objective& objective) {
  return [&objective](const std::vector<mx::array>& params, const Batch& batch, const mx::array& key) {
    return objective.sums(params, batch, key).loss;
  };
}

Gradients accumulate_gradients(const MicroBatchLoss& loss_fn, const std::vector<mx::array>& params,
                               const std::vector<Batch>& micro_batches,
                               const std::vector<mx::array>& dropout_keys) {
  std::vector<int> argnums(params.size());
  for (size_t i = 0; i < params.size(); ++i) argnums[i] = static_cast<int>(i);

  std::vector<mx::array> grad_sum;
  mx::array nll_total(0.0f), token_total(0.0f);
  for (size_t micro = 0; micro < micro_batches.size(); ++micro) {
    const Batch& batch = micro_batches[micro];
    auto fn = [&](const std::vector<mx::array>& p) {
      LossSum l = loss_fn(p, batch, dropout_keys.at(micro));
      return std::vector<mx::array>{l.nll_sum, l.tokens};
    };
    auto [values, grads] = mx::value_and_grad(fn, argnums)(params);
    nll_total = mx::add(nll_total, values[0]);
    token_total = mx::add(token_total, values[1]);
    if (grad_sum.empty()) {
      grad_sum = grads;
    } else {
      for (size_t i = 0; i < grads.size(); ++i) grad_sum[i] = mx::add(grad_sum[i], grads[i]);
    }
    std::vector<mx::array> to_eval = grad_sum;
    to_eval.push_back(nll_total);
    to_eval.push_back(token_total);
    mx::eval(to_eval);
  }
  Gradients out;
  const float tokens = token_total.item<float>();
  out.tokens = static_cast<int64_t>(tokens);
  out.loss = tokens > 0 ? static_cast<double>(nll_total.item<float>()) / tokens : std::nan("");
  const mx::array inv = mx::array(tokens > 0 ? 1.0f / tokens : 0.0f);
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
