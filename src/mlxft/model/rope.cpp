// RoPE frequencies and rotation (see rope.h for the contract).
#include "mlxft/model/rope.h"

#include "mlxft/kernels/rope_heads.h"
#include "mlxft/util/error.h"

#include <cmath>
#include <numbers>

namespace mx = mlx::core;

namespace mlxft {

std::vector<double> rope_inverse_frequencies(const ModelConfig& c, int sequence_end) {
  const int D = c.rotary_dim();
  const RopeScaling& r = c.rope_scaling;
  std::vector<double> inv(static_cast<size_t>(D / 2));
  for (int i = 0; i < D / 2; ++i) {
    inv[static_cast<size_t>(i)] = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / D);
  }
  if (r.type == "longrope") {
    const bool long_factors = sequence_end > r.original_max_position_embeddings;
    const std::vector<double>& ext = long_factors ? r.long_factor : r.short_factor;
    for (size_t i = 0; i < inv.size() && i < ext.size(); ++i) inv[i] /= ext[i];
  } else if (r.type == "linear") {
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

namespace {

// longrope keys cached at or below original_max_position_embeddings turned with the short factors; a
// pass that runs past it would turn its own with the long ones (transformers recomputes the whole
// cache there). mlxft does not, so it stops with a Config error.
void check_longrope_span(const ModelConfig& c, int offset, int end) {
  const RopeScaling& r = c.rope_scaling;
  const int original = r.original_max_position_embeddings;
  if (r.type != "longrope" || offset == 0 || offset > original || end <= original) return;
  throw Error(ErrorKind::Config, "rope_scaling.original_max_position_embeddings",
              "a cached sequence crosses " + std::to_string(original) +
                  " positions, where Phi-3's longrope switches from its short to its long factors "
                  "(positions " + std::to_string(offset) + ".." + std::to_string(end - 1) + ")",
              "keep prompt plus generated tokens within " + std::to_string(original) +
                  " positions, or pass the whole sequence at once (training and scoring do)");
}

// [B, heads, T, D] heads rotated over their first `rotary` features with `inv` (the rest pass), the
// rotated part times `scale` first (longrope's attention factor; rotation is linear, so before or
// after is the same).
mx::array rope_partial(const mx::array& x, int rotary, const std::vector<double>& inv, double scale, int offset) {
  mx::array h = x;
  if (scale != 1.0) {
    const int D = x.shape(3);
    const mx::Shape start = {0, 0, 0, 0};
    const mx::Shape mid = {x.shape(0), x.shape(1), x.shape(2), rotary};
    const mx::array scaled = mx::multiply(mx::slice(x, start, mid), mx::array(static_cast<float>(scale), x.dtype()));
    h = rotary == D ? scaled
                    : mx::concatenate({scaled, mx::slice(x, {0, 0, 0, rotary}, {x.shape(0), x.shape(1), x.shape(2), D})}, 3);
  }
  // fast::rope's `freqs` are periods: it rotates position t by t / freqs[i].
  std::vector<float> periods;
  for (double f : inv) periods.push_back(static_cast<float>(1.0 / f));
  const mx::array freqs(periods.begin(), {static_cast<int>(periods.size())}, mx::float32);
  return mx::fast::rope(h, rotary, /*traditional=*/false, std::nullopt, 1.0f, offset, freqs);
}

}  // namespace

mx::array apply_rope(const mx::array& x, const ModelConfig& c, int offset) {
  const int D = c.head_dim;
  const RopeScaling& r = c.rope_scaling;
  if (r.type == "default" && c.rotary_dim() == D) {
    return mx::fast::rope(x, D, /*traditional=*/false, c.rope_theta, 1.0f, offset);
  }
  const int end = offset + x.shape(2);
  check_longrope_span(c, offset, end);
  return rope_partial(x, c.rotary_dim(), rope_inverse_frequencies(c, end), r.attention_factor, offset);
}

mx::array split_heads_with_rope(const mx::array& y, int heads, const ModelConfig& c, int offset) {
  const RopeScaling& r = c.rope_scaling;
  const int end = offset + y.shape(1);
  check_longrope_span(c, offset, end);
  const std::vector<double> inv = rope_inverse_frequencies(c, end);
  if (c.rotary_dim() == c.head_dim) {  // the whole head: the kernel, then longrope's factor
    const std::optional<float> base = r.type == "default" ? std::optional<float>(c.rope_theta) : std::nullopt;
    const mx::array out = kernels::rope_heads(y, heads, inv, base, offset);
    if (r.attention_factor == 1.0) return out;
    return mx::multiply(out, mx::array(static_cast<float>(r.attention_factor), out.dtype()));
  }
  const int B = y.shape(0), T = y.shape(1);
  const mx::array split = mx::transpose(mx::reshape(y, {B, T, heads, c.head_dim}), {0, 2, 1, 3});
  return rope_partial(split, c.rotary_dim(), inv, r.attention_factor, offset);
}

}  // namespace mlxft
