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
  const mx::array m = mx::astype(mask, mx::float32);
  return masked_sum(kernels::token_cross_entropy(logits, targets, m, label_smoothing), m);
}

mx::array token_nll(const Model& model, const mx::array& hidden, const Batch& batch,
                    const TokenNllOptions& options) {
  const mx::array& targets = batch.targets;
  const mx::array& mask = batch.mask;
  if (hidden.ndim() != 3 || targets.ndim() != 2 || mask.shape() != targets.shape() ||
      hidden.shape(0) != targets.shape(0) || hidden.shape(1) != targets.shape(1)) {
    throw Error(ErrorKind::Training, "token_nll",
                fmt::format("shape mismatch: hidden {} targets {} mask {}", shape_str(hidden.shape()),
                            shape_str(targets.shape()), shape_str(mask.shape())),
                "hidden must be [B,T,E] and targets/mask [B,T]");
  }
  check_label_smoothing(options.label_smoothing, "token_nll");
  auto full_logits = [&model](const mx::array& h) { return lm_head(model, h); };
  return kernels::head_token_nll(
      hidden, kernel_weight(model, lm_head_name(model)), full_logits, mx::astype(targets, mx::int32),
      mx::astype(mask, mx::float32),
      {.label_smoothing = options.label_smoothing, .grad_in_forward = options.training});
}

LossSum masked_sum(const mx::array& nll, const mx::array& mask) {
  const mx::array m = mx::astype(mask, mx::float32);
  return LossSum{mx::sum(mx::multiply(nll, m)), mx::sum(m)};  // m is 0/1; a weighted mask weighs
}

}  // namespace mlxft
