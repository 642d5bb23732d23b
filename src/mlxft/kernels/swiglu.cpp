// The SwiGLU primitives (see swiglu.h).
#include "mlxft/kernels/swiglu.h"

#include <mlx/primitives.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/f32_span.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/simd_exp.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

// y = silu(g) u, or with dy: dg, du.
void span_portable(const float* g, const float* u, const float* dy, int64_t n, float* y, float* du) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-g[i]));
    if (!dy) {
      y[i] = g[i] * s * u[i];
    } else {
      y[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
      du[i] = dy[i] * g[i] * s;
    }
  }
}

#if defined(__x86_64__)
MLXFT_AVX512_TARGET void span_avx512(const float* g, const float* u, const float* dy, int64_t n, float* y,
                                     float* du) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes(n - i);
    const __m512 gv = _mm512_maskz_loadu_ps(k, g + i), uv = _mm512_maskz_loadu_ps(k, u + i);
    const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
    const __m512 gs = _mm512_mul_ps(gv, s);
    if (!dy) {
      _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(gs, uv));
      continue;
    }
    const __m512 d = _mm512_maskz_loadu_ps(k, dy + i);
    const __m512 t = _mm512_fmadd_ps(gv, _mm512_sub_ps(one, s), one);  // 1 + g (1 - s)
    _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_mul_ps(d, uv), _mm512_mul_ps(s, t)));
    _mm512_mask_storeu_ps(du + i, k, _mm512_mul_ps(d, gs));
  }
}
#endif

void span(const float* g, const float* u, const float* dy, int64_t n, float* y, float* du) {
#if defined(__x86_64__)
  static const bool avx512 = cpu_features().avx512f;
  if (avx512) return span_avx512(g, u, dy, n, y, du);
#endif
  span_portable(g, u, dy, n, y, du);
}

// Forward: in {g, u}, out {y}. Backward: in {g, u, dy}, out {dg, du}. Contiguous, all float32 or all
// bfloat16 (computed in float32 a chunk at a time).
class SwigluPrimitive : public mx::Primitive {
 public:
  SwigluPrimitive(mx::Stream s, bool backward) : mx::Primitive(s), backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([in, out]() mutable {
      const bool bwd = in.size() == 3;
      constexpr int64_t kChunk = 4096;
      const int64_t n = static_cast<int64_t>(in[0].size()), chunks = (n + kChunk - 1) / kChunk;
      parallel_for(
          chunks,
          [&](int64_t lo, int64_t hi) {
            F32Span g, u, dy, y, du;
            for (int64_t b = lo * kChunk; b < std::min(n, hi * kChunk); b += kChunk) {
              const int64_t m = std::min(kChunk, n - b);
              float* yp = y.write(out[0], b, m);
              float* dup = bwd ? du.write(out[1], b, m) : nullptr;
              span(g.read(in[0], b, m), u.read(in[1], b, m), bwd ? dy.read(in[2], b, m) : nullptr, m, yp,
                   dup);
              y.commit(out[0], b, m);
              if (bwd) du.commit(out[1], b, m);
            }
          },
          4);
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("Swiglu has no GPU kernel: swiglu() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    if (backward_) throw std::runtime_error("SwigluBackward: no second derivative");
    const mx::Dtype t = primals[0].dtype();
    const mx::array dy = mx::contiguous(mx::astype(cotangents[0], t, stream()), false, stream());
    auto prim = std::make_shared<SwigluPrimitive>(stream(), true);
    const auto grads = mx::array::make_arrays({primals[0].shape(), primals[0].shape()}, {t, t}, prim,
                                              {primals[0], primals[1], dy});
    std::vector<mx::array> out;
    for (int i : argnums) out.push_back(grads[static_cast<size_t>(i)]);
    return out;
  }

  const char* name() const override {
    return backward_ ? "SwigluBackward" : "Swiglu";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const SwigluPrimitive*>(&other);
    return o && o->backward_ == backward_;
  }

 private:
  bool backward_;
};

}  // namespace

mx::array swiglu_reference(const mx::array& g, const mx::array& u, mx::StreamOrDevice s) {
  return mx::multiply(mx::multiply(g, mx::sigmoid(g, s), s), u, s);
}

mx::array swiglu(const mx::array& g, const mx::array& u, mx::StreamOrDevice s) {
  if (g.shape() != u.shape()) throw Error(ErrorKind::Training, "swiglu", "gate and up must have one shape");
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream) || !f32_or_bf16(g.dtype()) || u.dtype() != g.dtype())
    return swiglu_reference(g, u, stream);
  const mx::array gc = mx::contiguous(g, false, stream), uc = mx::contiguous(u, false, stream);
  return mx::array(g.shape(), g.dtype(), std::make_shared<SwigluPrimitive>(stream, false), {gc, uc});
}

}  // namespace mlxft::kernels
