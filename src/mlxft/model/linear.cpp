// The frozen projection kernel (see linear.h).
#include "mlxft/model/linear.h"

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {
constexpr int64_t kQuantizedMatmulMaxCpuRows = 8;
}  // namespace

mx::array frozen_linear(const mx::array& x, const FrozenWeight& w) {
  if (w.quantized()) return quantized_linear(x, w);
  return mx::matmul(x, mx::transpose(w.weight));
}

mx::array quantized_linear(const mx::array& x, const FrozenWeight& w) {
  if (!w.scales || !w.biases) {
    throw Error(ErrorKind::Model, "frozen_linear", "a quantized weight needs its scales and biases");
  }
  auto as_x = [&](const mx::array& a) { return a.dtype() == x.dtype() ? a : mx::astype(a, x.dtype()); };
  const mx::array scales = as_x(*w.scales), biases = as_x(*w.biases);
  // A few rows (decoding): the whole layer's dequantization would cost more than MLX's per-row
  // quantized product (measured crossover near 8 rows on SmolLM2's shapes).
  const int64_t rows = x.ndim() > 0 ? static_cast<int64_t>(x.size()) / x.shape(-1) : 1;
  if (mx::default_device() == mx::Device::gpu || rows <= kQuantizedMatmulMaxCpuRows) {
    return mx::quantized_matmul(x, w.weight, scales, biases, true, w.group_size, w.bits);
  }
  const mx::array dense = mx::dequantize(w.weight, scales, biases, w.group_size, w.bits);
  return mx::matmul(x, mx::transpose(dense));
}

}  // namespace mlxft
