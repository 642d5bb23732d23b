// The fused LM head + cross-entropy primitives (see fused_head_ce.h).
#include "mlxft/kernels/fused_head_ce.h"

#include <fmt/format.h>
#include <mlx/primitives.h>

#include <cmath>
#include <cstring>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/frozen_linear_impl.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/row_math.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

#ifdef MLXFT_HAVE_DNNL
// One pass over the trained rows. Forward: nll (and lse); with dh, also the gradient rows
// g_i (softmax - onehot ...) W with g_i = row_scale[i] (1 when null). Backward (lse_in set):
// the statistics come from lse_in and only dh is written.
struct CeJob {
  const FrozenLinearWeight::Impl* w;
  const uint8_t* h;  // [N, E] in the compute dtype, or float32 when converting to bfloat16
  mx::Dtype h_dtype;
  const int32_t* targets;
  const float* mask;
  int64_t N, E, V;
  float e;
  int64_t chunk;
  const float* lse_in = nullptr;
  const float* row_scale = nullptr;
  float* nll = nullptr;
  float* lse = nullptr;
  float* dh = nullptr;
};

// Rows `rows[0..n)` of h into dst [n, E] in the compute dtype.
void gather(const CeJob& j, const int64_t* rows, int64_t n, uint8_t* dst) {
  const bool to_b = j.w->compute == mx::bfloat16 && j.h_dtype == mx::float32;
  const size_t row_bytes = static_cast<size_t>(j.E) * mx::size_of(j.h_dtype);
  parallel_for(
      n,
      [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          const uint8_t* src = j.h + static_cast<size_t>(rows[r]) * row_bytes;
          if (to_b) {
            to_bf16(reinterpret_cast<const float*>(src), j.E, reinterpret_cast<uint16_t*>(dst) + r * j.E);
          } else {
            std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src, row_bytes);
          }
        }
      },
      16);
}

// Statistics and gradient of the chunk's logit rows (in place when the compute dtype is float32).
void rows_pass(const CeJob& j, const int64_t* rows, int64_t n, float* logits, uint16_t* g_bf16) {
  parallel_for(
      n,
      [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          const int64_t i = rows[r];
          float* x = logits + r * j.V;
          const int64_t t = (j.targets[i] >= 0 && j.targets[i] < j.V) ? j.targets[i] : -1;
          float lse;
          if (j.lse_in) {
            lse = j.lse_in[i];
          } else {
            const RowStats s = row_stats(x, j.V);
            lse = s.max + std::log(s.sumexp);
            const float zt = t >= 0 ? x[t] : 0.0f;
            j.nll[i] = (1.0f - j.e) * (lse - zt) + j.e * (lse - s.sum / static_cast<float>(j.V));
            if (j.lse) j.lse[i] = lse;
          }
          if (!j.dh) continue;
          const float scale = j.row_scale ? j.row_scale[i] : 1.0f;
          if (g_bf16) {
            row_softmax_grad(x, j.V, lse, j.e, t, scale, g_bf16 + r * j.V);
          } else {
            row_softmax_grad(x, j.V, lse, j.e, t, scale, x);
          }
        }
      },
      4);
}

void run_ce(const CeJob& j) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < j.N; ++i)
    if (j.mask[i] != 0.0f) rows.push_back(i);
  if (j.nll) std::fill(j.nll, j.nll + j.N, 0.0f);
  if (j.lse) std::fill(j.lse, j.lse + j.N, 0.0f);
  if (j.dh) std::fill(j.dh, j.dh + j.N * j.E, 0.0f);
  if (rows.empty()) return;
  const bool bf16 = j.w->compute == mx::bfloat16;
  const int64_t C = std::min<int64_t>(j.chunk, static_cast<int64_t>(rows.size()));
  const size_t cs = mx::size_of(j.w->compute);
  const Buffer src = scratch(static_cast<size_t>(C * j.E) * cs);
  const Buffer logits = scratch(static_cast<size_t>(C * j.V) * 4);
  std::optional<Buffer> g, dhc;
  if (j.dh && bf16) g = scratch(static_cast<size_t>(C * j.V) * 2);
  if (j.dh) dhc = scratch(static_cast<size_t>(C * j.E) * 4);
  const Operand fw = weight_operand(*j.w, false);
  std::optional<Operand> bw;
  if (j.dh) bw = transposed_operand(*j.w, fw);
  const onednn::dt cdt = dnnl_type(j.w->compute);
  for (size_t c0 = 0; c0 < rows.size(); c0 += static_cast<size_t>(C)) {
    const int64_t n = std::min<int64_t>(C, static_cast<int64_t>(rows.size() - c0));
    const int64_t* rc = rows.data() + c0;
    gather(j, rc, n, src.ptr);
    float* z = logits.as<float>();
    onednn::matmul(n, src.ptr, cdt, fw.md, fw.ptr, z, onednn::dt::f32);
    rows_pass(j, rc, n, z, g ? g->as<uint16_t>() : nullptr);
    if (!j.dh) continue;
    const void* gp = g ? static_cast<const void*>(g->as<uint16_t>()) : static_cast<const void*>(z);
    float* d = dhc->as<float>();
    onednn::matmul(n, gp, cdt, bw->md, bw->ptr, d, onednn::dt::f32);
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(j.dh + rc[r] * j.E, d + r * j.E, static_cast<size_t>(j.E) * 4);
  }
}
#endif

// Inputs: h [N, E], targets int32 [N], mask float32 [N], then the head's arrays; for the backward
// also lse [N] and the cotangent [N] after mask.
class FusedHeadCEPrimitive : public mx::Primitive {
 public:
  FusedHeadCEPrimitive(mx::Stream s, FrozenLinearWeightPtr w, FusedHeadCEOptions o, bool backward)
      : mx::Primitive(s), w_(std::move(w)), o_(o), backward_(backward) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
#ifdef MLXFT_HAVE_DNNL
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([w = w_, o = o_, bwd = backward_, in, out]() mutable {
      const mx::array& h = in[0];
      CeJob j{
          &w->impl(), h.data<uint8_t>(), h.dtype(),         in[1].data<int32_t>(), in[2].data<float>(),
          h.shape(0), h.shape(1),        w->out_features(), o.label_smoothing,     std::max(1, o.chunk_rows)};
      if (bwd) {
        j.lse_in = in[3].data<float>();
        j.row_scale = in[4].data<float>();
        j.dh = out[0].data<float>();
      } else {
        j.nll = out[0].data<float>();
        (o.grad_in_forward ? j.dh : j.lse) = out[1].data<float>();
      }
      run_ce(j);
    });
#else
    (void)in;
    (void)out;
    throw std::runtime_error("FusedHeadCE: built without oneDNN");
#endif
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("FusedHeadCE has no GPU kernel: fused_head_ce() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override;

  const char* name() const override {
    return backward_ ? "FusedHeadCEBackward" : "FusedHeadCE";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const FusedHeadCEPrimitive*>(&other);
    return o && o->w_ == w_ && o->backward_ == backward_ && o->o_.chunk_rows == o_.chunk_rows &&
           o->o_.label_smoothing == o_.label_smoothing && o->o_.grad_in_forward == o_.grad_in_forward;
  }

 private:
  FrozenLinearWeightPtr w_;
  FusedHeadCEOptions o_;
  bool backward_;
};

std::vector<mx::array> FusedHeadCEPrimitive::vjp(const std::vector<mx::array>& primals,
                                                 const std::vector<mx::array>& cotangents,
                                                 const std::vector<int>& argnums,
                                                 const std::vector<mx::array>& outputs) {
  if (backward_) throw std::runtime_error("FusedHeadCEBackward: no second derivative");
  std::vector<mx::array> grads;
  for (int i : argnums) {
    if (i != 0) {
      grads.push_back(mx::zeros_like(primals[static_cast<size_t>(i)], stream()));
      continue;
    }
    const mx::array& h = primals[0];
    const mx::array g = mx::contiguous(mx::astype(cotangents[0], mx::float32, stream()), false, stream());
    if (o_.grad_in_forward) {
      grads.push_back(mx::astype(mx::multiply(outputs[1], mx::expand_dims(g, -1, stream()), stream()),
                                 h.dtype(), stream()));
      continue;
    }
    std::vector<mx::array> in = {primals[0], primals[1], primals[2], outputs[1], g};
    for (const auto& a : w_->impl().arrays()) in.push_back(a);
    auto prim = std::make_shared<FusedHeadCEPrimitive>(stream(), w_, o_, true);
    grads.push_back(mx::astype(mx::array(h.shape(), mx::float32, prim, in), h.dtype(), stream()));
  }
  return grads;
}

}  // namespace

mx::array token_cross_entropy(const mx::array& logits, const mx::array& targets, const mx::array& mask,
                              float label_smoothing, mx::StreamOrDevice s) {
  const mx::array z = mx::astype(logits, mx::float32, s);
  const mx::array lse = mx::logsumexp(z, -1, false, s);
  const mx::array idx = mx::expand_dims(mx::astype(targets, mx::int32, s), -1, s);
  const mx::array zt = mx::squeeze(mx::take_along_axis(z, idx, -1, s), -1, s);
  mx::array nll = mx::subtract(lse, zt, s);
  if (label_smoothing > 0.0f) {
    nll = mx::add(
        mx::multiply(mx::array(1.0f - label_smoothing), nll, s),
        mx::multiply(mx::array(label_smoothing), mx::subtract(lse, mx::mean(z, -1, false, s), s), s), s);
  }
  return mx::where(mx::not_equal(mask, mx::array(0.0f), s), nll, mx::array(0.0f), s);
}

mx::array head_ce_reference(const mx::array& h, const FrozenLinearWeightPtr& head, const mx::array& targets,
                            const mx::array& mask, float label_smoothing, mx::StreamOrDevice s) {
  return token_cross_entropy(head->reference(h, s), targets, mask, label_smoothing, s);
}

mx::array fused_head_ce(const mx::array& h, const FrozenLinearWeightPtr& head, const mx::array& targets,
                        const mx::array& mask, const FusedHeadCEOptions& options, mx::StreamOrDevice s) {
  const auto fail = [](const std::string& what) { throw Error(ErrorKind::Training, "fused_head_ce", what); };
  if (!head) fail("no head weight");
  if (h.ndim() < 2 || h.shape(-1) != head->in_features())
    fail(fmt::format("h must be [..., {}] (the head's in_features)", head->in_features()));
  mx::Shape lead(h.shape().begin(), h.shape().end() - 1);
  if (targets.shape() != lead || mask.shape() != lead) fail("targets and mask must have h's leading shape");
  if (h.dtype() != mx::float32 && h.dtype() != mx::bfloat16) fail("h must be float32 or bfloat16");
  if (options.label_smoothing < 0.0f || options.label_smoothing >= 1.0f)
    fail("label_smoothing outside [0, 1)");
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream) || !head->uses_dnnl())
    return head_ce_reference(h, head, targets, mask, options.label_smoothing, stream);
  const int E = head->in_features();
  mx::array h2 = mx::reshape(h, {-1, E}, stream);
  if (head->compute_dtype() == mx::float32) h2 = mx::astype(h2, mx::float32, stream);
  const int N = h2.shape(0);
  std::vector<mx::array> in = {
      mx::contiguous(h2, false, stream),
      mx::contiguous(mx::astype(mx::reshape(targets, {N}, stream), mx::int32, stream), false, stream),
      mx::contiguous(mx::astype(mx::reshape(mask, {N}, stream), mx::float32, stream), false, stream)};
  for (const auto& a : head->impl().arrays()) in.push_back(a);
  const mx::Shape aux = options.grad_in_forward ? mx::Shape{N, E} : mx::Shape{N};
  auto prim = std::make_shared<FusedHeadCEPrimitive>(stream, head, options, false);
  auto outs = mx::array::make_arrays({{N}, aux}, {mx::float32, mx::float32}, prim, in);
  return mx::reshape(outs[0], lead, stream);
}

mx::array head_token_nll(const mx::array& h, const FrozenLinearWeightPtr& head,
                         const HeadLogits& plain_logits, const mx::array& targets, const mx::array& mask,
                         const FusedHeadCEOptions& options, mx::StreamOrDevice s) {
  const mx::Stream stream = mx::to_stream(s);
  if (head && head->uses_dnnl() && cpu_kernels_run_on(stream))
    return fused_head_ce(h, head, targets, mask, options, stream);
  return token_cross_entropy(plain_logits(h), targets, mask, options.label_smoothing, stream);
}

}  // namespace mlxft::kernels
