// The fused RoPE-and-heads primitives (see rope_heads.h).
#include "mlxft/kernels/rope_heads.h"

#include <mlx/primitives.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/f32_span.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

struct Dims {
  int64_t B, T, H, D;
};

// cos and sin of token position p for each frequency: c[i], s[i], i < D / 2.
void angles(int64_t p, const std::vector<float>& inv_freq, float* c, float* s) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float a = static_cast<float>(p) * inv_freq[i];
    c[i] = std::cos(a);
    s[i] = std::sin(a);
  }
}

// Rows [lo, hi) of B * T. Forward: x [B, T, H, D] -> y [B, H, T, D] rotated by +a. Backward: dy
// [B, H, T, D] -> dx [B, T, H, D] rotated by -a. in and out float32 or bfloat16 (any mix).
void rows(const Dims& d, const std::vector<float>& inv_freq, int64_t offset, bool backward,
          const mx::array& in, mx::array& out, int64_t lo, int64_t hi) {
  const int64_t h2 = d.D / 2;
  std::vector<float> c(static_cast<size_t>(h2)), s(static_cast<size_t>(h2));
  F32Span src_span, dst_span;
  for (int64_t r = lo; r < hi; ++r) {
    const int64_t b = r / d.T, t = r % d.T;
    angles(offset + t, inv_freq, c.data(), s.data());
    const float sign = backward ? -1.0f : 1.0f;
    for (int64_t h = 0; h < d.H; ++h) {
      const int64_t token_major = (r * d.H + h) * d.D, head_major = ((b * d.H + h) * d.T + t) * d.D;
      const int64_t src_at = backward ? head_major : token_major,
                    dst_at = backward ? token_major : head_major;
      const float* src = src_span.read(in, src_at, d.D);
      float* dst = dst_span.write(out, dst_at, d.D);
      for (int64_t i = 0; i < h2; ++i) {
        const float x0 = src[i], x1 = src[i + h2], sn = sign * s[i];
        dst[i] = x0 * c[i] - x1 * sn;
        dst[i + h2] = x1 * c[i] + x0 * sn;
      }
      dst_span.commit(out, dst_at, d.D);
    }
  }
}

// Forward: in {x [B, T, H D]}, out {y [B, H, T, D]}. Backward: in {dy [B, H, T, D]}, out {dx}.
class RopeHeadsPrimitive : public mx::Primitive {
 public:
  RopeHeadsPrimitive(mx::Stream s, int heads, std::vector<float> inv_freq, int offset, bool backward)
      : mx::Primitive(s),
        heads_(heads),
        inv_freq_(std::move(inv_freq)),
        offset_(offset),
        backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    const mx::array& x = in[0];
    const Dims d = backward_ ? Dims{x.shape(0), x.shape(2), x.shape(1), x.shape(3)}
                             : Dims{x.shape(0), x.shape(1), heads_, x.shape(2) / heads_};
    encoder.dispatch([d, inv = inv_freq_, offset = offset_, bwd = backward_, x, y = out[0]]() mutable {
      parallel_for(
          d.B * d.T, [&](int64_t lo, int64_t hi) { rows(d, inv, offset, bwd, x, y, lo, hi); }, 16);
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("RopeHeads has no GPU kernel: rope_heads() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>&) override {
    if (backward_) throw std::runtime_error("RopeHeadsBackward: no second derivative");
    const mx::Dtype t = primals[0].dtype();
    const mx::array dy = mx::contiguous(mx::astype(cotangents[0], t, stream()), false, stream());
    auto prim = std::make_shared<RopeHeadsPrimitive>(stream(), heads_, inv_freq_, offset_, true);
    return {mx::array(primals[0].shape(), t, prim, {dy})};
  }

  const char* name() const override { return backward_ ? "RopeHeadsBackward" : "RopeHeads"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const RopeHeadsPrimitive*>(&other);
    return o && o->heads_ == heads_ && o->inv_freq_ == inv_freq_ && o->offset_ == offset_ &&
           o->backward_ == backward_;
  }

 private:
  int heads_;
  std::vector<float> inv_freq_;
  int offset_;
  bool backward_;
};

void check(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset) {
  const auto fail = [](const std::string& what) { throw Error(ErrorKind::Training, "rope_heads", what); };
  if (x.ndim() != 3) fail("x must be [B, tokens, heads * head_dim]");
  if (heads <= 0 || x.shape(2) % heads != 0) fail("the last dimension must be a multiple of heads");
  if (inv_freq.empty() || x.shape(2) / heads != 2 * static_cast<int>(inv_freq.size()))
    fail("head_dim must be twice the number of inverse frequencies");
  if (offset < 0) fail("offset must be >= 0");
}

}  // namespace

mx::array rope_heads_reference(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                               mx::StreamOrDevice s) {
  check(x, heads, inv_freq, offset);
  const int B = x.shape(0), T = x.shape(1), D = x.shape(2) / heads;
  std::vector<float> periods;  // fast::rope's `freqs` are periods: position t turns by t / freqs[i]
  for (float f : inv_freq) periods.push_back(1.0f / f);
  const mx::array freqs(periods.begin(), {static_cast<int>(periods.size())}, mx::float32);
  const mx::array split = mx::transpose(mx::reshape(x, {B, T, heads, D}, s), {0, 2, 1, 3}, s);
  return mx::fast::rope(split, D, /*traditional=*/false, std::nullopt, 1.0f, offset, freqs, s);
}

mx::array rope_heads(const mx::array& x, int heads, const std::vector<float>& inv_freq, int offset,
                     mx::StreamOrDevice s) {
  check(x, heads, inv_freq, offset);
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream) || !f32_or_bf16(x.dtype()))
    return rope_heads_reference(x, heads, inv_freq, offset, stream);
  const int B = x.shape(0), T = x.shape(1), D = x.shape(2) / heads;
  return mx::array({B, heads, T, D}, x.dtype(),
                   std::make_shared<RopeHeadsPrimitive>(stream, heads, inv_freq, offset, false),
                   {mx::contiguous(x, false, stream)});
}

mx::array rope_heads(const mx::array& x, int heads, const std::vector<double>& inv_freq,
                     std::optional<float> base, int offset, mx::StreamOrDevice s) {
  const mx::Stream stream = mx::to_stream(s);
  const std::vector<float> inv(inv_freq.begin(), inv_freq.end());
  if (cpu_kernels_run_on(stream) && f32_or_bf16(x.dtype())) return rope_heads(x, heads, inv, offset, stream);
  check(x, heads, inv, offset);
  const int B = x.shape(0), T = x.shape(1), D = x.shape(2) / heads;
  const mx::array split = mx::transpose(mx::reshape(x, {B, T, heads, D}, stream), {0, 2, 1, 3}, stream);
  if (base) return mx::fast::rope(split, D, /*traditional=*/false, *base, 1.0f, offset, std::nullopt, stream);
  std::vector<float> periods;  // fast::rope's `freqs` are periods: position t turns by t / freqs[i]
  for (double f : inv_freq) periods.push_back(static_cast<float>(1.0 / f));
  const mx::array freqs(periods.begin(), {static_cast<int>(periods.size())}, mx::float32);
  return mx::fast::rope(split, D, /*traditional=*/false, std::nullopt, 1.0f, offset, freqs, stream);
}

}  // namespace mlxft::kernels
