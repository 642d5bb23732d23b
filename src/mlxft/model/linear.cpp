// The frozen projection kernel (see linear.h).
#include "mlxft/model/linear.h"

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

mx::array frozen_linear(const mx::array& x, const FrozenWeight& w) {
  if (w.quantized()) {
    throw Error(ErrorKind::Model, "frozen_linear", "quantized base weights are not supported yet",
                "use a model with float weights");
  }
  return mx::matmul(x, mx::transpose(w.weight));
}

}  // namespace mlxft
