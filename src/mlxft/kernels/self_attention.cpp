// Causal self-attention, the kernel-or-MLX choice (see self_attention.h).
#include "mlxft/kernels/self_attention.h"

#include <optional>

#include "mlxft/kernels/causal_attention.h"
#include "mlxft/kernels/causal_softmax.h"
#include "mlxft/kernels/switches.h"

namespace mlxft::kernels {
namespace {

// softmax(q k^T scale + causal mask) v with the scores' softmax as one CPU kernel (causal_softmax.h),
// each KV head's G = H / K query heads through one [G T, D] x [D, S] product. key_bias [B, 1, 1, 1, S],
// when given, is added to the scores first.
mx::array softmax_kernel_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                   const std::optional<mx::array>& key_bias, const mx::Stream& s) {
  const int B = q.shape(0), H = q.shape(1), T = q.shape(2), D = q.shape(3);
  const int K = k.shape(1), S = k.shape(2), G = H / K;
  const mx::array scores =
      mx::matmul(mx::reshape(q, {B, K, G * T, D}, s), mx::transpose(k, {0, 1, 3, 2}, s), s);
  mx::array s5 = mx::reshape(scores, {B, K, G, T, S}, s);
  if (key_bias) s5 = mx::add(s5, mx::astype(*key_bias, s5.dtype(), s), s);
  const mx::array p = causal_softmax(s5, scale, s);
  const mx::array o = mx::matmul(mx::astype(mx::reshape(p, {B, K, G * T, S}, s), v.dtype(), s), v, s);
  return mx::reshape(o, {B, H, T, D}, s);
}

// [B, 1, T, S] booleans for left-padded rows: query t (position S - T + t) of row b sees key s when
// pad[b] <= s <= S - T + t. A padding query also sees itself, so no row of the softmax is empty.
mx::array padding_mask(const std::vector<int>& pad, int T, int S, const mx::Stream& s) {
  const int B = static_cast<int>(pad.size());
  const mx::array key_pos = mx::reshape(mx::arange(S, mx::int32, s), {1, 1, 1, S}, s);
  const mx::array query_pos = mx::reshape(mx::arange(S - T, S, mx::int32, s), {1, 1, T, 1}, s);
  const mx::array first = mx::reshape(mx::array(pad.data(), {B}, mx::int32), {B, 1, 1, 1}, s);
  const mx::array visible =
      mx::logical_and(mx::less_equal(key_pos, query_pos, s), mx::greater_equal(key_pos, first, s), s);
  return mx::logical_or(visible, mx::equal(key_pos, query_pos, s), s);
}

// [B, 1, 1, 1, S]: -1e30 on row b's padding keys (s < pad[b]), 0 elsewhere; the kernels add the causal
// mask. A padding query sees only padding keys: its (unused) row stays finite, never NaN.
mx::array padding_bias(const std::vector<int>& pad, int S, const mx::Stream& s) {
  const int B = static_cast<int>(pad.size());
  const mx::array key_pos = mx::reshape(mx::arange(S, mx::int32, s), {1, 1, 1, 1, S}, s);
  const mx::array first = mx::reshape(mx::array(pad.data(), {B}, mx::int32), {B, 1, 1, 1, 1}, s);
  return mx::where(mx::less(key_pos, first, s), mx::array(-1e30f), mx::array(0.0f), s);
}

// [B or 1, 1, T, S] booleans for a sliding window: query t (position S - T + t) sees key s when
// position - window < s <= position (and s >= pad[b] in a padded row, where a query sees itself).
mx::array window_mask(const std::vector<int>& pad, int T, int S, int window, const mx::Stream& s) {
  const mx::array key_pos = mx::reshape(mx::arange(S, mx::int32, s), {1, 1, 1, S}, s);
  const mx::array query_pos = mx::reshape(mx::arange(S - T, S, mx::int32, s), {1, 1, T, 1}, s);
  const mx::array in_window =
      mx::greater(key_pos, mx::subtract(query_pos, mx::array(window, mx::int32), s), s);
  const mx::array causal = pad.empty() ? mx::less_equal(key_pos, query_pos, s) : padding_mask(pad, T, S, s);
  return mx::logical_and(causal, in_window, s);
}

}  // namespace

mx::array self_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                         const std::vector<int>& left_pad, bool bf16_products, int window, mx::StreamOrDevice s) {
  const mx::Stream stream = mx::to_stream(s);
  const int T = q.shape(2), S = k.shape(2);
  if (window > 0 && S > window) {  // some key lies outside some query's window
    return mx::fast::scaled_dot_product_attention(q, k, v, scale, "array",
                                                  window_mask(left_pad, T, S, window, stream), {}, false, stream);
  }
  const bool padded = !left_pad.empty();
  if (cpu_kernels_run_on(stream) && (padded || T > 1)) {
    const std::optional<mx::array> bias =
        padded ? std::optional<mx::array>(padding_bias(left_pad, S, stream)) : std::nullopt;
    if (fused_attention_runs_on(stream)) return causal_attention(q, k, v, scale, bias, bf16_products, stream);
    return softmax_kernel_attention(q, k, v, scale, bias, stream);
  }
  if (padded) {
    return mx::fast::scaled_dot_product_attention(q, k, v, scale, "array",
                                                  padding_mask(left_pad, T, S, stream), {}, false, stream);
  }
  return mx::fast::scaled_dot_product_attention(q, k, v, scale, T > 1 ? "causal" : "", {}, {}, false, stream);
}

}  // namespace mlxft::kernels
