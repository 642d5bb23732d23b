// The RMSNorm primitives (see rms_norm.h).
#include "mlxft/kernels/rms_norm.h"

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

constexpr int kLanes = 16;  // partial sums a row: the loops vectorise, the order is fixed

// sum_i a[i] b[i] in kLanes partial sums, added pairwise at the end.
float dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int j = 0; j < width; ++j) acc[j] += acc[j + width];
  return acc[0];
}

float inv_rms(const float* x, int64_t E, float eps) {
  return 1.0f / std::sqrt(dot(x, x, E) / static_cast<float>(E) + eps);
}

// One row: y = x r w, or with dy: dx = r (w dy) - x r^3 mean(w dy x) (g holds w dy).
void row(const float* x, const float* w, const float* dy, int64_t E, float eps, float* o, float* g) {
  const float r = inv_rms(x, E, eps);
  if (!dy) {
    for (int64_t i = 0; i < E; ++i) o[i] = x[i] * r * w[i];
    return;
  }
  for (int64_t i = 0; i < E; ++i) g[i] = w[i] * dy[i];
  const float c = r * r * r * dot(g, x, E) / static_cast<float>(E);
  for (int64_t i = 0; i < E; ++i) o[i] = r * g[i] - c * x[i];
}

// Forward: in {x, w}, out {y}. Backward: in {x, w, dy}, out {dx}. Contiguous; w float32, x, dy and
// the output all float32 or all bfloat16 (computed in float32 a row at a time).
class RmsNormPrimitive : public mx::Primitive {
 public:
  RmsNormPrimitive(mx::Stream s, float eps, bool backward)
      : mx::Primitive(s), eps_(eps), backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([in, y = out[0], eps = eps_]() mutable {
      const int64_t E = in[0].shape(-1), n = E == 0 ? 0 : static_cast<int64_t>(in[0].size()) / E;
      const bool bwd = in.size() == 3;
      parallel_for(
          n,
          [&](int64_t lo, int64_t hi) {
            std::vector<float> g(bwd ? static_cast<size_t>(E) : 0);
            F32Span x, dy, o;
            for (int64_t r = lo; r < hi; ++r) {
              row(x.read(in[0], r * E, E), in[1].data<float>(), bwd ? dy.read(in[2], r * E, E) : nullptr, E,
                  eps, o.write(y, r * E, E), g.data());
              o.commit(y, r * E, E);
            }
          },
          8);
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("RmsNorm has no GPU kernel: rms_norm() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    if (backward_) throw std::runtime_error("RmsNormBackward: no second derivative");
    const mx::array& x = primals[0];
    const mx::array dy = mx::contiguous(mx::astype(cotangents[0], x.dtype(), stream()), false, stream());
    std::vector<mx::array> grads;
    for (int i : argnums) {
      if (i == 0) {
        auto prim = std::make_shared<RmsNormPrimitive>(stream(), eps_, true);
        grads.push_back(mx::array(x.shape(), x.dtype(), prim, {x, primals[1], dy}));
        continue;
      }
      const mx::array xf = mx::astype(x, mx::float32, stream()), dyf = mx::astype(dy, mx::float32, stream());
      const mx::array r = mx::rsqrt(
          mx::add(mx::mean(mx::square(xf, stream()), -1, true, stream()), mx::array(eps_), stream()),
          stream());
      const mx::array per_row = mx::reshape(mx::multiply(mx::multiply(dyf, xf, stream()), r, stream()),
                                            {-1, x.shape(-1)}, stream());
      grads.push_back(mx::sum(per_row, 0, false, stream()));
    }
    return grads;
  }

  const char* name() const override { return backward_ ? "RmsNormBackward" : "RmsNorm"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const RmsNormPrimitive*>(&other);
    return o && o->eps_ == eps_ && o->backward_ == backward_;
  }

 private:
  float eps_;
  bool backward_;
};

}  // namespace

mx::array rms_norm(const mx::array& x, const mx::array& w, float eps, mx::StreamOrDevice s) {
  if (x.ndim() < 1 || w.ndim() != 1 || w.shape(0) != x.shape(-1))
    throw Error(ErrorKind::Training, "rms_norm", "the weight must be [E] for x [..., E]");
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream) || !f32_or_bf16(x.dtype()) || !f32_or_bf16(w.dtype()))
    return mx::fast::rms_norm(x, w, eps, stream);
  return mx::array(
      x.shape(), x.dtype(), std::make_shared<RmsNormPrimitive>(stream, eps, false),
      {mx::contiguous(x, false, stream), mx::contiguous(mx::astype(w, mx::float32, stream), false, stream)});
}

}  // namespace mlxft::kernels
