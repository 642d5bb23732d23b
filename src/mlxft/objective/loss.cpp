#include "mlxft/objective/loss.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mlxft/kernels/fused_head_ce.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

std::string shape_str(const mx::Shape& s) {
  return fmt::format("[{}]", fmt::join(s, ","));
}

void check_label_smoothing(float label_smoothing, const char* where) {
  if (label_smoothing < 0.0f || label_smoothing >= 1.0f) {
    throw Error(ErrorKind::Training, where,
                fmt::format("label_smoothing {} outside [0, 1)", label_smoothing));
  }
}

}  // namespace

LossSum masked_cross_entropy(const mx::array& logits, const mx::array& targets, const mx::array& mask,
                             float label_smoothing) {
  if (logits.ndim() != 3 || targets.ndim() != 2 || mask.shape() != targets.shape() ||
      logits.shape(0) != targets.shape(0) || logits.shape(1) != targets.shape(1)) {
    throw Error(ErrorKind::Training, "masked_cross_entropy",
                fmt::format("shape mismatch: logits {} targets {} mask {}", shape_str(logits.shape()),
                            shape_str(targets.shape()), shape_str(mask.shape())),
                "logits must be [B,T,V] and targets/mask [B,T]");
  }
  check_label_smoothing(label_smoothing, "masked_cross_entropy");
  const mx::array x = mx::astype(logits, mx::float32);
  const mx::array lse = mx::logsumexp(x, -1, /*keepdims=*/false);  // [B,T]
  const mx::array idx = mx::expand_dims(mx::astype(targets, mx::int32), -1);
  const mx::array picked = mx::squeeze(mx::take_along_axis(x, idx, -1), -1);  // [B,T]
  mx::array per_token = mx::subtract(lse, picked);
  if (label_smoothing > 0.0f) {
    // mean over the vocabulary of -log p_v = lse - mean(x)
    const mx::array uniform = mx::subtract(lse, mx::mean(x, -1));
    per_token = mx::add(mx::multiply(mx::array(1.0f - label_smoothing), per_token),
                        mx::multiply(mx::array(label_smoothing), uniform));
  }
  const mx::array m = mx::astype(mask, mx::float32);
  return LossSum{mx::sum(mx::multiply(per_token, m)), mx::sum(m)};
}

LossSum fused_masked_cross_entropy(const mx::array& hidden, const kernels::FrozenLinearWeightPtr& head,
                                   const mx::array& targets, const mx::array& mask, float label_smoothing,
                                   bool training) {
  if (hidden.ndim() != 3 || targets.ndim() != 2 || mask.shape() != targets.shape() ||
      hidden.shape(0) != targets.shape(0) || hidden.shape(1) != targets.shape(1)) {
    throw Error(ErrorKind::Training, "fused_masked_cross_entropy",
                fmt::format("shape mismatch: hidden {} targets {} mask {}", shape_str(hidden.shape()),
                            shape_str(targets.shape()), shape_str(mask.shape())),
                "hidden must be [B,T,E] and targets/mask [B,T]");
  }
  check_label_smoothing(label_smoothing, "fused_masked_cross_entropy");
  const mx::array m = mx::astype(mask, mx::float32);
  const mx::array nll =
      kernels::fused_head_ce(hidden, head, mx::astype(targets, mx::int32), m,
                             {.label_smoothing = label_smoothing, .grad_in_forward = training});
  return LossSum{mx::sum(mx::multiply(nll, m)), mx::sum(m)};  // m is 0/1; a weighted mask weighs
}

}  // namespace mlxft
