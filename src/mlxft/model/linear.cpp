// The frozen projection kernel (see linear.h).
#include "mlxft/model/linear.h"

#include "mlxft/kernels/quantized_rows.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// The float path: the prepared CPU kernel when there is one, else MLX's matmul.
mx::array float_linear(const mx::array& x, const FrozenWeight& w) {
  if (w.prepared) return kernels::frozen_linear(x, w.prepared);
  return mx::matmul(x, mx::transpose(w.weight));
}

constexpr int64_t kQuantizedMatmulMaxCpuRows = 8;

}  // namespace

mx::array frozen_linear(const mx::array& x, const FrozenWeight& w) {
  if (w.quantized()) return quantized_linear(x, w);
  return float_linear(x, w);
}

mx::Dtype resolve_compute_dtype(const std::string& name) {
  if (name == "float32") return mx::float32;
  if (name == "bfloat16") return mx::bfloat16;
  if (name != "auto") {
    throw Error(ErrorKind::Config, "model.compute_dtype", "unknown compute dtype '" + name + "'",
                "use auto, float32 or bfloat16");
  }
  if (mx::default_device() != mx::Device::cpu) return mx::bfloat16;
  return bf16_matmul_is_fast() ? mx::bfloat16 : mx::float32;
}

kernels::FrozenLinearWeightPtr KernelWeightCache::get(const std::string& name, const mx::array& w,
                                                      mx::Dtype compute_dtype, bool pack) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto id = static_cast<std::uintptr_t>(w.id());
  Entry& e = entries_[name];
  if (!e.weight || e.id != id || e.weight->compute_dtype() != compute_dtype || e.pack != pack) {
    e.weight = kernels::make_frozen_linear_weight(
        w, {.compute_dtype = compute_dtype, .pack = pack, .pack_backward = pack});
    e.pack = pack;
    e.id = id;
  }
  return e.weight;
}

kernels::FrozenLinearWeightPtr KernelWeightCache::get_quantized(const std::string& name, const FrozenWeight& w,
                                                                mx::Dtype compute_dtype, bool pack) {
  // The kernel takes 2, 4 and 8 bits; other widths (a GGUF's Q5_0/Q5_1/Q5_K, mlx-community 3/5/6-bit
  // files) run on MLX's ops (quantized_linear()) instead of failing.
  if (w.bits != 2 && w.bits != 4 && w.bits != 8) return nullptr;
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto id = static_cast<std::uintptr_t>(w.weight.id());
  Entry& e = entries_[name];
  if (!e.weight || e.id != id || e.weight->compute_dtype() != compute_dtype || e.pack != pack) {
    e.weight = kernels::make_frozen_linear_weight(
        w.weight, *w.scales, *w.biases, w.group_size, w.bits,
        {.compute_dtype = compute_dtype, .pack = pack, .pack_backward = pack},
        pack ? kernels::QuantizedMode::DequantizeOnce : kernels::QuantizedMode::DequantizePerCall);
    e.pack = pack;
    e.id = id;
  }
  return e.weight;
}

mx::array frozen_float_weight(const FrozenWeight& w) {
  if (!w.quantized()) return w.weight.dtype() == mx::float32 ? w.weight : mx::astype(w.weight, mx::float32);
  if (!w.scales || !w.biases) {
    throw Error(ErrorKind::Model, "frozen_float_weight", "a quantized weight needs its scales and biases");
  }
  return mx::dequantize(w.weight, mx::astype(*w.scales, mx::float32), mx::astype(*w.biases, mx::float32),
                        w.group_size, w.bits);
}

mx::array quantized_linear(const mx::array& x, const FrozenWeight& w) {
  if (!w.scales || !w.biases) {
    throw Error(ErrorKind::Model, "frozen_linear", "a quantized weight needs its scales and biases");
  }
  // A few rows (decoding): the whole layer's dequantization would cost more than a per-row quantized
  // product (measured crossover near 8 rows on SmolLM2's shapes).
  const int64_t rows = x.ndim() > 0 ? static_cast<int64_t>(x.size()) / x.shape(-1) : 1;
  if (mx::default_device() == mx::Device::gpu || rows <= kQuantizedMatmulMaxCpuRows) {
    return kernels::quantized_matmul(x, w.weight, *w.scales, *w.biases, w.group_size, w.bits,
                                     w.prepared.get());
  }
  if (w.prepared) return kernels::frozen_linear(x, w.prepared);
  auto as_x = [&](const mx::array& a) { return a.dtype() == x.dtype() ? a : mx::astype(a, x.dtype()); };
  const mx::array dense = mx::dequantize(w.weight, as_x(*w.scales), as_x(*w.biases), w.group_size, w.bits);
  return mx::matmul(x, mx::transpose(dense));
}

}  // namespace mlxft
