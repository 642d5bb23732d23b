// LoRA's low-rank branch with an eagerly ordered gradient (see lora_branch.h).
#include "mlxft/model/lora_branch.h"

#include <vector>

namespace mx = mlx::core;

namespace mlxft {
namespace {

using Arrays = std::vector<mx::array>;

// in: x, a, b. out: z = (x a^T) b^T and xa = x a^T (kept for b's gradient).
Arrays branch_forward(const Arrays& in) {
  mx::array xa = mx::matmul(in[0], mx::transpose(in[1]));
  mx::array z = mx::matmul(xa, mx::transpose(in[2]));
  return {z, xa};
}

// dz of z only: xa is an internal output. The rows of every leading dimension are one sum.
Arrays branch_vjp(const Arrays& primals, const Arrays& cotangents, const Arrays& outputs) {
  const mx::array& x = primals[0];
  const mx::array& a = primals[1];
  const mx::array& b = primals[2];
  const mx::array& dz = cotangents[0];
  const mx::array& xa = outputs[1];
  const auto rows = [](const mx::array& t) { return mx::reshape(t, {-1, t.shape(-1)}); };
  const mx::array db = mx::matmul(mx::transpose(rows(dz)), rows(xa));
  const mx::array g = mx::matmul(dz, b);
  const mx::array da = mx::matmul(mx::transpose(rows(g)), rows(mx::astype(x, g.dtype())));
  mx::array dx = mx::astype(mx::matmul(g, a), x.dtype());
  dx = mx::depends({dx}, {da, db})[0];
  return {dx, mx::astype(da, a.dtype()), mx::astype(db, b.dtype())};
}

}  // namespace

mx::array lora_branch(const mx::array& x, const mx::array& a, const mx::array& b) {
  static const auto fn = mx::custom_vjp(branch_forward, branch_vjp);
  return fn({x, a, b})[0];
}

}  // namespace mlxft
