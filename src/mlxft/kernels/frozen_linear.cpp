// The FrozenLinear primitive (see frozen_linear.h): eval_cpu runs oneDNN, vjp/jvp reuse it.
#include <fmt/format.h>
#include <mlx/primitives.h>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/dequantize.h"
#include "mlxft/kernels/frozen_linear_impl.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/row_math.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {

#ifdef MLXFT_HAVE_DNNL
Operand weight_operand(const FrozenLinearWeight::Impl& w, bool transposed) {
  const onednn::dt t = dnnl_type(w.compute);
  const int64_t K = transposed ? w.out : w.in, N = transposed ? w.in : w.out;
  const dnnl::memory::desc plain = transposed ? onednn::plain_ab(K, N, t) : onednn::plain_ba(K, N, t);
  if (!w.per_call()) {
    if (!transposed && w.forward) return {w.forward->md, w.forward->data.ptr, {}};
    if (!transposed || !w.options.pack_backward) return {plain, w.dense->data<uint8_t>(), {}};
    std::lock_guard<std::mutex> lock(w.backward_mutex);
    if (!w.backward) {
      dnnl::memory::desc to = onednn::preferred_weights(K, N, t);
      PackedMatrix p{scratch(to.get_size()), to};
      onednn::reorder(plain, w.dense->data<uint8_t>(), to, p.data.ptr);
      w.backward = p;
    }
    return {w.backward->md, w.backward->data.ptr, {}};
  }
  // Quantized, dequantized for this call into a transient [out, in] buffer.
  const Buffer buf = scratch(static_cast<size_t>(w.out) * w.in * mx::size_of(w.compute));
  const AffineQuantized q = affine_view(w);
  if (w.compute == mx::bfloat16) {
    dequantize(q, buf.as<uint16_t>());
  } else {
    dequantize(q, buf.as<float>());
  }
  if (!w.options.pack) return {plain, buf.ptr, {buf}};
  dnnl::memory::desc to = onednn::preferred_weights(K, N, t);
  const Buffer packed = scratch(to.get_size());
  onednn::reorder(plain, buf.ptr, to, packed.ptr);
  return {to, packed.ptr, {packed}};
}

Operand transposed_operand(const FrozenLinearWeight::Impl& w, const Operand& forward) {
  if (!w.per_call() || w.options.pack) return weight_operand(w, true);
  return {onednn::plain_ab(w.out, w.in, dnnl_type(w.compute)), forward.ptr, forward.keep};
}
#endif

namespace {
#ifdef MLXFT_HAVE_DNNL

// out[M, N] = x[M, K] B, x converted to the compute dtype first when it differs.
void run(const FrozenLinearWeight::Impl& w, bool transposed, const mx::array& x, mx::array& out) {
  const int64_t K = transposed ? w.out : w.in;
  const int64_t M = static_cast<int64_t>(x.size()) / K;
  if (M == 0) return;
  const void* src = x.data<uint8_t>();
  std::optional<Buffer> converted;
  if (x.dtype() != w.compute) {  // float32 x, bfloat16 compute (the API converts the other way)
    converted = scratch(static_cast<size_t>(M * K) * 2);
    const float* xf = x.data<float>();
    uint16_t* xb = converted->as<uint16_t>();
    parallel_for(
        M, [&](int64_t lo, int64_t hi) { to_bf16(xf + lo * K, (hi - lo) * K, xb + lo * K); }, 8);
    src = xb;
  }
  const Operand b = weight_operand(w, transposed);
  onednn::matmul(M, src, dnnl_type(w.compute), b.md, b.ptr, out.data<uint8_t>(), dnnl_type(out.dtype()));
}
#endif

class FrozenLinearPrimitive : public mx::Primitive {
 public:
  FrozenLinearPrimitive(mx::Stream s, FrozenLinearWeightPtr w, bool transposed)
      : mx::Primitive(s), w_(std::move(w)), transposed_(transposed) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
#ifdef MLXFT_HAVE_DNNL
    const mx::array& x = inputs[0];
    mx::array& out = outputs[0];
    if (!x.flags().row_contiguous) throw std::runtime_error("FrozenLinear: x must be row-contiguous");
    auto& encoder = prepare_cpu_eval(stream(), inputs, outputs);
    encoder.dispatch([w = w_, t = transposed_, x, out]() mutable { run(w->impl(), t, x, out); });
#else
    (void)inputs;
    (void)outputs;
    throw std::runtime_error("FrozenLinear: built without oneDNN");
#endif
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("FrozenLinear has no GPU kernel: frozen_linear() uses MLX ops there");
  }

  // y = x B is linear in x: its vjp is the transposed product, its jvp the product itself.
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    std::vector<mx::array> grads;
    for (int i : argnums) {
      grads.push_back(i == 0 ? apply(cotangents[0], !transposed_, primals[0].shape())
                             : mx::zeros_like(primals[static_cast<size_t>(i)], stream()));
    }
    return grads;
  }
  std::vector<mx::array> jvp(const std::vector<mx::array>& primals, const std::vector<mx::array>& tangents,
                             const std::vector<int>& argnums) override {
    for (size_t j = 0; j < argnums.size(); ++j)
      if (argnums[j] == 0) return {apply(tangents[j], transposed_, out_shape(primals[0].shape()))};
    return {mx::zeros(out_shape(primals[0].shape()), primals[0].dtype(), stream())};
  }

  const char* name() const override {
    return transposed_ ? "FrozenLinearTransposed" : "FrozenLinear";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const FrozenLinearPrimitive*>(&other);
    return o && o->w_ == w_ && o->transposed_ == transposed_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override {
    return {out_shape(inputs[0].shape())};
  }

  // The primitive applied to a: a B (transposed = false) or a B^T, result shaped `shape`.
  mx::array apply(const mx::array& a, bool transposed, const mx::Shape& shape) {
    std::vector<mx::array> in = {mx::contiguous(a, false, stream())};
    for (const auto& arr : w_->impl().arrays()) in.push_back(arr);
    return mx::array(shape, a.dtype(), std::make_shared<FrozenLinearPrimitive>(stream(), w_, transposed), in);
  }

 private:
  mx::Shape out_shape(mx::Shape s) const {
    s.back() = transposed_ ? w_->in_features() : w_->out_features();
    return s;
  }
  FrozenLinearWeightPtr w_;
  bool transposed_;
};

}  // namespace

mx::array frozen_linear(const mx::array& x, const FrozenLinearWeightPtr& w, mx::StreamOrDevice s) {
  if (!w) throw Error(ErrorKind::Model, "frozen_linear", "no weight");
  if (x.ndim() < 1 || x.shape(-1) != w->in_features())
    throw Error(ErrorKind::Model, "frozen_linear",
                fmt::format("x's last dimension {} does not match W's in_features {}",
                            x.ndim() ? x.shape(-1) : 0, w->in_features()));
  if (x.dtype() != mx::float32 && x.dtype() != mx::bfloat16)
    throw Error(ErrorKind::Model, "frozen_linear", "x must be float32 or bfloat16");
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream) || !w->uses_dnnl()) return w->reference(x, stream);
  if (x.dtype() == mx::bfloat16 && w->compute_dtype() == mx::float32)
    return mx::astype(frozen_linear(mx::astype(x, mx::float32, stream), w, stream), mx::bfloat16, stream);
  mx::Shape shape = x.shape();
  shape.back() = w->out_features();
  std::vector<mx::array> in = {mx::contiguous(x, false, stream)};
  for (const auto& arr : w->impl().arrays()) in.push_back(arr);
  return mx::array(shape, x.dtype(), std::make_shared<FrozenLinearPrimitive>(stream, w, false), in);
}

}  // namespace mlxft::kernels
