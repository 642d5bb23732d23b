// RoPE frequencies and rotation (see rope.h for the contract).
#include "mlxft/model/rope.h"

#include "mlxft/kernels/rope_heads.h"

#include <cmath>
#include <numbers>

namespace mx = mlx::core;

namespace mlxft {

std::vector<double> rope_inverse_frequencies(const ModelConfig& c) {
  const int D = c.head_dim;
  const RopeScaling& r = c.rope_scaling;
  std::vector<double> inv(static_cast<size_t>(D / 2));
  for (int i = 0; i < D / 2; ++i) {
    inv[static_cast<size_t>(i)] = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / D);
  }
  if (r.type == "linear") {
    for (double& f : inv) f /= r.factor;
  } else if (r.type == "llama3") {
    // Wavelengths longer than the original context / low_freq_factor are stretched by `factor`,
    // shorter than original / high_freq_factor kept; in between, a linear blend in 1/wavelength.
    const double original = r.original_max_position_embeddings;
    const double low_freq_wavelen = original / r.low_freq_factor;
    const double high_freq_wavelen = original / r.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_freq_wavelen) {
        f /= r.factor;
      } else if (wavelen >= high_freq_wavelen) {
        const double smooth =
            (original / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        f = (1.0 - smooth) * f / r.factor + smooth * f;
      }
    }
  }
  return inv;
}

mx::array apply_rope(const mx::array& x, const ModelConfig& c, int offset) {
  const int D = c.head_dim;
  if (c.rope_scaling.type == "default") {
    return mx::fast::rope(x, D, /*traditional=*/false, c.rope_theta, 1.0f, offset);
  }
  // fast::rope's `freqs` are periods: it rotates position t by t / freqs[i].
  std::vector<float> periods;
  for (double f : rope_inverse_frequencies(c)) periods.push_back(static_cast<float>(1.0 / f));
  const mx::array freqs(periods.begin(), {static_cast<int>(periods.size())}, mx::float32);
  return mx::fast::rope(x, D, /*traditional=*/false, std::nullopt, 1.0f, offset, freqs);
}

mx::array split_heads_with_rope(const mx::array& y, int heads, const ModelConfig& c, int offset) {
  const std::optional<float> base =
      c.rope_scaling.type == "default" ? std::optional<float>(c.rope_theta) : std::nullopt;
  return kernels::rope_heads(y, heads, rope_inverse_frequencies(c), base, offset);
}

}  // namespace mlxft
