// Greedy and top-p (nucleus) sampling (see sampling.h).
#include "mlxft/eval/sampling.h"

#include <limits>

namespace mx = mlx::core;

namespace mlxft {

mx::array sample_token(const mx::array& logits, const SamplingOptions& options, const mx::array& key) {
  if (options.temperature <= 0.0f) return mx::astype(mx::argmax(logits), mx::int32);
  const mx::array scaled = mx::divide(logits, mx::array(options.temperature));
  if (options.top_p >= 1.0f) return mx::astype(mx::random::categorical(scaled, -1, key), mx::int32);

  // Sort by probability, descending; keep token i while the mass strictly before it is < top_p,
  // so the most likely token is always kept and the kept set is the smallest reaching top_p.
  const mx::array order = mx::argsort(mx::negative(scaled));
  const mx::array sorted_logits = mx::take(scaled, order);
  const mx::array sorted_probs = mx::softmax(sorted_logits);
  const mx::array mass_before = mx::cumsum(sorted_probs, /*reverse=*/false, /*inclusive=*/false);
  const mx::array keep = mx::less(mass_before, mx::array(options.top_p));
  const mx::array masked = mx::where(keep, sorted_logits, mx::array(-std::numeric_limits<float>::infinity()));
  const mx::array pick = mx::random::categorical(masked, -1, key);
  return mx::astype(mx::take(order, pick), mx::int32);
}

}  // namespace mlxft
