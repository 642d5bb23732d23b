// Construction of FrozenLinearWeight: conversion to the compute dtype, dequantization, packing.
#include <fmt/format.h>

#include "mlxft/kernels/dequantize.h"
#include "mlxft/kernels/frozen_linear_impl.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorKind::Model, "frozen_linear", what);
}

void check_compute(mx::Dtype d) {
  if (d != mx::float32 && d != mx::bfloat16) fail("compute dtype must be float32 or bfloat16");
}

#ifdef MLXFT_HAVE_DNNL

// B [K, N] given as `from` over `src` -> oneDNN's preferred layout, in MLX-owned memory.
PackedMatrix pack(const dnnl::memory::desc& from, const void* src, int64_t K, int64_t N, mx::Dtype d) {
  dnnl::memory::desc to = onednn::preferred_weights(K, N, dnnl_type(d));
  PackedMatrix p{scratch(to.get_size()), to};
  onednn::reorder(from, src, to, p.data.ptr);
  return p;
}
#endif

void finish(FrozenLinearWeight::Impl& impl) {
  impl.dnnl = have_onednn();
#ifdef MLXFT_HAVE_DNNL
  if (impl.options.pack && impl.dense) {
    const auto& w = *impl.dense;
    impl.forward = pack(onednn::plain_ba(impl.in, impl.out, dnnl_type(impl.compute)), w.data<uint8_t>(),
                        impl.in, impl.out, impl.compute);
  }
#endif
}

}  // namespace

std::vector<mx::array> FrozenLinearWeight::Impl::arrays() const {
  if (per_call()) return {*wq, *kernel_scales, *kernel_biases};
  return {*dense};
}

std::pair<mx::array, mx::array> FrozenLinearWeight::Impl::rows_scales() const {
  if (kernel_scales->dtype() == mx::float32) return {*kernel_scales, *kernel_biases};
  std::lock_guard<std::mutex> lock(rows_mutex);
  if (!scales_f32) {
    scales_f32 = mx::astype(*kernel_scales, mx::float32);
    biases_f32 = mx::astype(*kernel_biases, mx::float32);
    mx::eval({*scales_f32, *biases_f32});
  }
  return {*scales_f32, *biases_f32};
}

AffineQuantized affine_view(const FrozenLinearWeight::Impl& w) {
  AffineQuantized q{w.wq->data<uint32_t>(), nullptr, nullptr, w.out, w.in, w.group, w.bits};
  if (w.kernel_scales->dtype() == mx::bfloat16) {
    q.scales_bf16 = w.kernel_scales->data<uint16_t>();
    q.biases_bf16 = w.kernel_biases->data<uint16_t>();
  } else {
    q.scales = w.kernel_scales->data<float>();
    q.biases = w.kernel_biases->data<float>();
  }
  return q;
}

FrozenLinearWeight::FrozenLinearWeight(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FrozenLinearWeight::~FrozenLinearWeight() = default;

int FrozenLinearWeight::out_features() const {
  return impl_->out;
}
int FrozenLinearWeight::in_features() const {
  return impl_->in;
}
mx::Dtype FrozenLinearWeight::compute_dtype() const {
  return impl_->compute;
}
bool FrozenLinearWeight::quantized() const {
  return impl_->quantized && impl_->wq.has_value();
}
bool FrozenLinearWeight::uses_dnnl() const {
  return impl_->dnnl;
}

size_t FrozenLinearWeight::resident_bytes() const {
  size_t n = 0;
  for (const auto& a : impl_->arrays()) n += a.nbytes();
  {
    std::lock_guard<std::mutex> lock(impl_->rows_mutex);
    if (impl_->scales_f32) n += impl_->scales_f32->nbytes() + impl_->biases_f32->nbytes();
  }
#ifdef MLXFT_HAVE_DNNL
  if (impl_->forward) n += impl_->forward->data.owner.nbytes();
  std::lock_guard<std::mutex> lock(impl_->backward_mutex);
  if (impl_->backward) n += impl_->backward->data.owner.nbytes();
#endif
  return n;
}

mx::array FrozenLinearWeight::reference(const mx::array& x, mx::StreamOrDevice s) const {
  const Impl& w = *impl_;
  mx::array y = w.per_call()
                    ? mx::quantized_matmul(mx::astype(x, w.scales->dtype(), s), *w.wq, *w.scales, *w.biases,
                                           /*transpose=*/true, w.group, w.bits, "affine", s)
                    : mx::matmul(mx::astype(x, w.compute, s), mx::transpose(*w.dense, s), s);
  return mx::astype(y, x.dtype(), s);
}

FrozenLinearWeightPtr make_frozen_linear_weight(const mx::array& w, const FrozenLinearOptions& options) {
  check_compute(options.compute_dtype);
  if (w.ndim() != 2) fail(fmt::format("W must be [out, in], got {} dimensions", w.ndim()));
  auto impl = std::make_unique<FrozenLinearWeight::Impl>();
  impl->out = w.shape(0);
  impl->in = w.shape(1);
  impl->compute = options.compute_dtype;
  impl->options = options;
  impl->dense = mx::contiguous(mx::astype(w, options.compute_dtype));
  mx::eval(*impl->dense);
  finish(*impl);
  return std::make_shared<const FrozenLinearWeight>(std::move(impl));
}

FrozenLinearWeightPtr make_frozen_linear_weight(const mx::array& wq, const mx::array& scales,
                                                const mx::array& biases, int group_size, int bits,
                                                const FrozenLinearOptions& options, QuantizedMode mode) {
  check_compute(options.compute_dtype);
  if (bits != 2 && bits != 4 && bits != 8)
    fail(fmt::format("{}-bit weights are not supported (2, 4, 8)", bits));
  if (group_size != 32 && group_size != 64 && group_size != 128)
    fail(fmt::format("group size {} is not supported (32, 64, 128)", group_size));
  if (wq.ndim() != 2 || wq.dtype() != mx::uint32 || scales.ndim() != 2 || biases.shape() != scales.shape())
    fail("quantized W must be uint32 [out, in * bits / 32] with scales and biases [out, in / group]");
  const int in = wq.shape(1) * 32 / bits;
  if (scales.shape(0) != wq.shape(0) || scales.shape(1) * group_size != in)
    fail(fmt::format("scales [{}, {}] do not match W [{}, {}] at group {}", scales.shape(0), scales.shape(1),
                     wq.shape(0), in, group_size));
  auto impl = std::make_unique<FrozenLinearWeight::Impl>();
  impl->out = wq.shape(0);
  impl->in = in;
  impl->compute = options.compute_dtype;
  impl->options = options;
  impl->quantized = true;
  impl->group = group_size;
  impl->bits = bits;
  impl->wq = mx::contiguous(wq);
  impl->scales = scales;
  impl->biases = biases;
  // The kernel reads float32 and bfloat16 scales as stored (no copy: contiguous() of a contiguous
  // array shares its buffer); float16 ones become float32 once.
  const bool as_stored =
      (scales.dtype() == mx::float32 || scales.dtype() == mx::bfloat16) && biases.dtype() == scales.dtype();
  const mx::Dtype kd = as_stored ? scales.dtype() : mx::float32;
  impl->kernel_scales = mx::contiguous(mx::astype(scales, kd));
  impl->kernel_biases = mx::contiguous(mx::astype(biases, kd));
  mx::eval({*impl->wq, *impl->kernel_scales, *impl->kernel_biases});
  if (mode == QuantizedMode::DequantizeOnce) {
    const AffineQuantized q = affine_view(*impl);
    mx::array dense(
        mx::allocator::malloc(static_cast<size_t>(impl->out) * impl->in * mx::size_of(impl->compute)),
        {impl->out, impl->in}, impl->compute);
    if (impl->compute == mx::bfloat16) {
      dequantize(q, dense.data<uint16_t>());
    } else {
      dequantize(q, dense.data<float>());
    }
    impl->dense = dense;
    impl->wq.reset();
    impl->scales.reset();
    impl->biases.reset();
    impl->kernel_scales.reset();
    impl->kernel_biases.reset();
  }
  finish(*impl);
  return std::make_shared<const FrozenLinearWeight>(std::move(impl));
}

}  // namespace mlxft::kernels
