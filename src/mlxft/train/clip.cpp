#include "mlxft/train/clip.h"

namespace mlxft {

mx::array global_norm(const std::vector<mx::array>& grads) {
  mx::array total = mx::array(0.0f);
  for (const auto& g : grads) total = mx::add(total, mx::sum(mx::square(mx::astype(g, mx::float32))));
  return mx::sqrt(total);
}

ClipResult clip_by_global_norm(const std::vector<mx::array>& grads, double max_norm) {
  mx::array norm = global_norm(grads);
  if (max_norm <= 0.0) return {grads, norm};
  const mx::array factor = mx::minimum(
      mx::array(1.0f), mx::divide(mx::array(static_cast<float>(max_norm)), mx::add(norm, mx::array(1e-6f))));
  std::vector<mx::array> out;
  out.reserve(grads.size());
  for (const auto& g : grads) out.push_back(mx::multiply(g, factor));
  return {out, norm};
}

}  // namespace mlxft
