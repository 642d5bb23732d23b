// LoRA's low-rank branch added to the frozen output, with an eagerly ordered gradient (see lora_branch.h).
#include "mlxft/model/lora_branch.h"

#include <vector>

#include "mlxft/kernels/low_rank.h"
#include "mlxft/kernels/switches.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using Arrays = std::vector<mx::array>;

namespace k = kernels;

// [rows, last]: the rows of every leading dimension are one sum.
mx::array rows(const mx::array& t) {
  return mx::reshape(t, {-1, t.shape(-1)});
}

// The products on the CPU kernels of kernels/low_rank (float32 or bfloat16 activations on a CPU).
bool on_kernels(const mx::array& x) {
  return k::low_rank_kernels_run_on(k::default_stream(), x.dtype());
}

// in: y, x, a, b. out: y + (s x a^T) b^T and xs = s x a^T (kept for b's gradient).
Arrays add_forward(const Arrays& in, float scale) {
  const mx::array& y = in[0];
  if (on_kernels(in[1])) {
    const mx::array xs = k::low_rank_down(rows(in[1]), in[2], scale);
    const mx::array sum = k::low_rank_up(xs, mx::transpose(in[3]), rows(y), y.dtype());
    return {mx::reshape(sum, y.shape()), xs};
  }
  const mx::array xs = mx::multiply(mx::matmul(in[1], mx::transpose(in[2])), mx::array(scale));
  const mx::array bt = mx::transpose(in[3]);
  if (y.dtype() == mx::float32 && xs.dtype() == mx::float32) return {mx::addmm(y, xs, bt), xs};
  return {mx::add(y, mx::astype(mx::matmul(xs, bt), y.dtype())), xs};
}

// The cotangent dz of the sum only: xs is an internal output. The rows of every leading dimension
// are one sum.
Arrays add_vjp(const Arrays& primals, const Arrays& cotangents, const Arrays& outputs, float scale) {
  const mx::array& x = primals[1];
  const mx::array& a = primals[2];
  const mx::array& b = primals[3];
  const mx::array& xs = outputs[1];
  if (on_kernels(x)) {
    const mx::array dz = rows(cotangents[0]);
    const mx::array g = k::low_rank_down(dz, mx::transpose(b), scale);
    const mx::array db = mx::transpose(k::low_rank_outer(xs, dz));
    const mx::array da = k::low_rank_outer(g, rows(x));
    mx::array dx = mx::reshape(k::low_rank_up(g, a, std::nullopt, x.dtype()), x.shape());
    dx = mx::depends({dx}, {da, db})[0];
    return {cotangents[0], dx, mx::astype(da, a.dtype()), mx::astype(db, b.dtype())};
  }
  const mx::array dz = mx::astype(cotangents[0], mx::float32);
  const mx::array db = mx::matmul(mx::transpose(rows(dz)), rows(xs));
  const mx::array g = mx::multiply(mx::matmul(dz, mx::astype(b, mx::float32)), mx::array(scale));
  const mx::array da = mx::matmul(mx::transpose(rows(g)), rows(mx::astype(x, g.dtype())));
  mx::array dx = mx::astype(mx::matmul(g, mx::astype(a, g.dtype())), x.dtype());
  dx = mx::depends({dx}, {da, db})[0];
  return {cotangents[0], dx, mx::astype(da, a.dtype()), mx::astype(db, b.dtype())};
}

}  // namespace

mx::array lora_add(const mx::array& y, const mx::array& x, const mx::array& a, const mx::array& b,
                   float scale) {
  const auto fn = mx::custom_vjp(
      [scale](const Arrays& in) { return add_forward(in, scale); },
      [scale](const Arrays& p, const Arrays& c, const Arrays& o) { return add_vjp(p, c, o, scale); });
  return fn({y, x, a, b})[0];
}

}  // namespace mlxft
