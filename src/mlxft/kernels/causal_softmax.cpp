// The causal softmax primitives (see causal_softmax.h).
#include "mlxft/kernels/causal_softmax.h"

#include <mlx/primitives.h>

#include <memory>
#include <stdexcept>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/row_math.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

// Rows of [rows, S] float32 where row r is query t = r % T: its first t + S - T + 1 columns are valid.
int64_t valid_columns(int64_t r, int64_t T, int64_t S) {
  return r % T + S - T + 1;
}

// Forward: in = {scores float32 contiguous}, out = {P}. Backward: in = {P, dP}, out = {dScores}.
class CausalSoftmaxPrimitive : public mx::Primitive {
 public:
  CausalSoftmaxPrimitive(mx::Stream s, float scale, bool backward)
      : mx::Primitive(s), scale_(scale), backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([scale = scale_, bwd = backward_, in, o = out[0]]() mutable {
      const int64_t S = in[0].shape(-1), T = in[0].shape(-2);
      const int64_t rows = static_cast<int64_t>(in[0].size()) / S;
      const float* a = in[0].data<float>();
      const float* g = bwd ? in[1].data<float>() : nullptr;
      float* y = o.data<float>();
      parallel_for(
          rows,
          [&](int64_t lo, int64_t hi) {
            for (int64_t r = lo; r < hi; ++r) {
              const int64_t nv = valid_columns(r, T, S);
              if (bwd) {
                row_softmax_backward(a + r * S, g + r * S, nv, S, scale, y + r * S);
              } else {
                row_masked_softmax(a + r * S, nv, S, scale, y + r * S);
              }
            }
          },
          16);
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("CausalSoftmax has no GPU kernel: causal_softmax() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override {
    if (backward_) throw std::runtime_error("CausalSoftmaxBackward: no second derivative");
    (void)argnums;
    const mx::array g = mx::contiguous(mx::astype(cotangents[0], mx::float32, stream()), false, stream());
    auto prim = std::make_shared<CausalSoftmaxPrimitive>(stream(), scale_, true);
    return {mx::astype(mx::array(outputs[0].shape(), mx::float32, prim, {outputs[0], g}), primals[0].dtype(),
                       stream())};
  }

  const char* name() const override {
    return backward_ ? "CausalSoftmaxBackward" : "CausalSoftmax";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const CausalSoftmaxPrimitive*>(&other);
    return o && o->scale_ == scale_ && o->backward_ == backward_;
  }

 private:
  float scale_;
  bool backward_;
};

void check(const mx::array& scores, float scale) {
  const auto fail = [](const char* what) { throw Error(ErrorKind::Training, "causal_softmax", what); };
  if (scores.ndim() < 2) fail("scores must be [..., T, S]");
  if (scores.shape(-1) < scores.shape(-2)) fail("scores need S >= T (keys cover every query)");
  if (!(scale > 0.0f)) fail("scale must be positive");
  if (!mx::issubdtype(scores.dtype(), mx::floating)) fail("scores must be a float array");
}

}  // namespace

mx::array causal_softmax_reference(const mx::array& scores, float scale, mx::StreamOrDevice s) {
  check(scores, scale);
  const int T = scores.shape(-2), S = scores.shape(-1);
  const mx::array rows = mx::reshape(mx::arange(T, s), {T, 1}, s);
  const mx::array cols = mx::reshape(mx::arange(S, s), {1, S}, s);
  const mx::array visible = mx::less_equal(cols, mx::add(rows, mx::array(S - T), s), s);
  const mx::array z = mx::multiply(mx::astype(scores, mx::float32, s), mx::array(scale), s);
  const mx::array masked = mx::where(visible, z, mx::array(-std::numeric_limits<float>::infinity()), s);
  return mx::softmax(masked, -1, true, s);
}

mx::array causal_softmax(const mx::array& scores, float scale, mx::StreamOrDevice s) {
  check(scores, scale);
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream)) return causal_softmax_reference(scores, scale, stream);
  const mx::array x = mx::contiguous(mx::astype(scores, mx::float32, stream), false, stream);
  auto prim = std::make_shared<CausalSoftmaxPrimitive>(stream, scale, false);
  return mx::array(x.shape(), mx::float32, prim, {x});
}

}  // namespace mlxft::kernels
