// The fused causal attention kernel against MLX's own attention: values and q/k/v gradients in float32 and
// bfloat16, odd shapes (T, S off the 64 blocks, one query, cached keys), grouped heads, padding bias, threads.
#include "mlxft/kernels/causal_attention.h"

#include <gtest/gtest.h>

#include "kernel_test_util.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/util/error.h"

namespace {

namespace mx = mlx::core;
using kernel_test::max_abs;
using kernel_test::max_abs_diff;
using kernel_test::normal;
using mlxft::kernels::causal_attention;
using mlxft::kernels::causal_attention_reference;

struct Case {
  int B, H, K, T, S, D;
};

// MLX's fused attention (its "causal" mask aligns the last query with the last key, as ours).
mx::array mlx_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale) {
  const mx::array f = mx::fast::scaled_dot_product_attention(
      mx::astype(q, mx::float32), mx::astype(k, mx::float32), mx::astype(v, mx::float32), scale,
      q.shape(2) > 1 ? "causal" : "");
  return mx::astype(f, q.dtype());
}

using Attention = std::function<mx::array(const mx::array&, const mx::array&, const mx::array&)>;

// Output and the gradients of sum(o * w) w.r.t. q, k, v.
std::vector<mx::array> value_and_grads(const Attention& f, const mx::array& q, const mx::array& k,
                                       const mx::array& v, const mx::array& w) {
  auto loss = [&](const std::vector<mx::array>& in) {
    return std::vector<mx::array>{mx::sum(mx::multiply(mx::astype(f(in[0], in[1], in[2]), mx::float32), w))};
  };
  auto [vals, grads] = mx::vjp(loss, {q, k, v}, {mx::array(1.0f)});
  std::vector<mx::array> out{f(q, k, v)};
  out.insert(out.end(), grads.begin(), grads.end());
  mx::eval(out);
  return out;
}

// Largest |a - b| relative to the largest |b| (at least 0.1: with one key, dq and dk are exactly 0).
float rel_diff(const mx::array& a, const mx::array& b) {
  return max_abs_diff(a, b) / std::max(0.1f, max_abs(b));
}

void expect_matches(const Case& c, mx::Dtype dtype, float tol, uint64_t seed, bool bf16_products = false) {
  SCOPED_TRACE(::testing::Message() << "B" << c.B << " H" << c.H << " K" << c.K << " T" << c.T << " S" << c.S
                                    << " D" << c.D << (dtype == mx::bfloat16 ? " bf16" : " f32")
                                    << (bf16_products ? " bf16 products" : ""));
  const mx::array q = mx::astype(normal({c.B, c.H, c.T, c.D}, 1.0f, seed), dtype);
  const mx::array k = mx::astype(normal({c.B, c.K, c.S, c.D}, 1.0f, seed + 1), dtype);
  const mx::array v = mx::astype(normal({c.B, c.K, c.S, c.D}, 1.0f, seed + 2), dtype);
  const mx::array w = normal({c.B, c.H, c.T, c.D}, 1.0f, seed + 3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.D));
  const auto ours = value_and_grads(
      [&](auto& a, auto& b, auto& d) { return causal_attention(a, b, d, scale, {}, bf16_products); }, q, k, v, w);
  // Reference in float32 on the same (rounded) inputs.
  const auto f32 = [](const mx::array& a) { return mx::astype(a, mx::float32); };
  const auto ref = value_and_grads([&](auto& a, auto& b, auto& d) { return mlx_attention(a, b, d, scale); },
                                   f32(q), f32(k), f32(v), w);
  EXPECT_EQ(ours[0].dtype(), dtype);
  EXPECT_EQ(ours[0].shape(), q.shape());
  const char* names[] = {"o", "dq", "dk", "dv"};
  for (size_t i = 0; i < 4; ++i) {
    const float r = rel_diff(ours[i], ref[i]);
    EXPECT_LT(r, tol) << names[i];
    if (std::getenv("MLXFT_TEST_VERBOSE")) std::printf("  %s rel diff %.3g\n", names[i], r);
  }
}

TEST(KernelCausalAttention, Float32MatchesMlxOnOddShapes) {
  const float tol = 1e-5f;  // relative to the largest magnitude of each tensor
  expect_matches({1, 1, 1, 1, 1, 64}, mx::float32, tol, 1);      // one query, one key
  expect_matches({2, 3, 3, 37, 37, 64}, mx::float32, tol, 2);    // G = 1, T below one block
  expect_matches({2, 6, 2, 100, 100, 64}, mx::float32, tol, 3);  // G = 3, T off the 64 blocks
  expect_matches({1, 2, 1, 130, 130, 128}, mx::float32, tol, 4); // D = 128, three query blocks
  expect_matches({2, 4, 2, 65, 65, 32}, mx::float32, tol, 5);    // D = 32, one row past a block
}

TEST(KernelCausalAttention, CachedKeysShiftTheMask) {
  // T new queries after S - T cached keys: query t sees keys 0..t + S - T.
  expect_matches({1, 3, 1, 1, 77, 64}, mx::float32, 1e-5f, 6);     // one new token
  expect_matches({2, 6, 2, 29, 150, 64}, mx::float32, 1e-5f, 7);   // offset 121, G = 3
  expect_matches({1, 2, 2, 70, 135, 128}, mx::float32, 1e-5f, 8);  // offset 65, D = 128
}

TEST(KernelCausalAttention, Bfloat16MatchesMlx) {
  const float tol = 1e-2f;
  expect_matches({2, 6, 2, 100, 100, 64}, mx::bfloat16, tol, 9);
  expect_matches({1, 4, 4, 70, 135, 128}, mx::bfloat16, tol, 10);
  expect_matches({2, 3, 1, 1, 20, 64}, mx::bfloat16, tol, 11);
}

// float32 inputs, bfloat16 block products (model.compute_dtype bfloat16): bfloat16's tolerance, and not
// the float32 result, which a product that ignored the flag would give.
TEST(KernelCausalAttention, Bfloat16ProductsOnFloat32Inputs) {
  expect_matches({2, 6, 2, 100, 100, 64}, mx::float32, 1e-2f, 12, true);
  expect_matches({1, 2, 1, 130, 130, 128}, mx::float32, 1e-2f, 13, true);
  const mx::array q = normal({1, 2, 40, 64}, 1.0f, 14), k = normal({1, 2, 40, 64}, 1.0f, 15);
  const mx::array v = normal({1, 2, 40, 64}, 1.0f, 16);
  const mx::array exact = causal_attention(q, k, v, 0.125f), rounded = causal_attention(q, k, v, 0.125f, {}, true);
  EXPECT_EQ(rounded.dtype(), mx::float32);
  EXPECT_GT(max_abs_diff(exact, rounded), 1e-5f);
}

TEST(KernelCausalAttention, ReferenceMatchesMlx) {
  // The GPU path's MLX-ops reference is itself the same attention.
  const mx::array q = normal({2, 6, 30, 64}, 1.0f, 12), k = normal({2, 2, 41, 64}, 1.0f, 13);
  const mx::array v = normal({2, 2, 41, 64}, 1.0f, 14);
  EXPECT_LT(rel_diff(causal_attention_reference(q, k, v, 0.125f), mlx_attention(q, k, v, 0.125f)), 2e-6f);
}

TEST(KernelCausalAttention, KeyBiasMasksPaddingKeys) {
  // Row 0 has 3 padding keys (bias -1e30): its output must equal attention over keys 3.. only.
  const int S = 40, T = 40, D = 64;
  const mx::array q = normal({2, 2, T, D}, 1.0f, 15), k = normal({2, 1, S, D}, 1.0f, 16);
  const mx::array v = normal({2, 1, S, D}, 1.0f, 17);
  std::vector<float> bias(2 * S, 0.0f);
  for (int s = 0; s < 3; ++s) bias[s] = -1e30f;
  const mx::array kb = mx::array(bias.data(), {2, 1, 1, 1, S});
  const mx::array ours = causal_attention(q, k, v, 0.125f, kb);
  const mx::array ref = causal_attention_reference(q, k, v, 0.125f, kb);
  EXPECT_TRUE(mx::all(mx::isfinite(ours)).item<bool>());
  EXPECT_LT(rel_diff(ours, ref), 2e-5f);
  // The non-padding queries of row 0 against the unpadded attention of its last 37 tokens.
  auto tail = [&](const mx::array& a) { return mx::slice(a, {0, 0, 3, 0}, {1, a.shape(1), a.shape(2), D}); };
  const mx::array short_ref = causal_attention_reference(tail(q), tail(k), tail(v), 0.125f);
  EXPECT_LT(rel_diff(tail(ours), short_ref), 2e-5f);
  // Row 1 has no padding: same as without bias.
  auto row1 = [](const mx::array& a) { return mx::slice(a, {1, 0, 0, 0}, {2, a.shape(1), a.shape(2), a.shape(3)}); };
  EXPECT_LT(rel_diff(row1(ours), row1(causal_attention(q, k, v, 0.125f))), 1e-6f);
}

TEST(KernelCausalAttention, SameOnOneThreadAndMany) {
  const mx::array q = normal({2, 6, 150, 64}, 1.0f, 18), k = normal({2, 2, 150, 64}, 1.0f, 19);
  const mx::array v = normal({2, 2, 150, 64}, 1.0f, 20), w = normal({2, 6, 150, 64}, 1.0f, 21);
  const Attention f = [](auto& a, auto& b, auto& d) { return causal_attention(a, b, d, 0.125f); };
  const int threads = mlxft::kernels::kernel_threads();
  mlxft::kernels::set_kernel_threads(1);
  const auto one = value_and_grads(f, q, k, v, w);
  mlxft::kernels::set_kernel_threads(4);
  const auto many = value_and_grads(f, q, k, v, w);
  mlxft::kernels::set_kernel_threads(threads);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(max_abs_diff(one[i], many[i]), 0.0f) << i;
}

TEST(KernelCausalAttention, RejectsBadShapes) {
  const mx::array q = mx::zeros({1, 4, 8, 16}), kv = mx::zeros({1, 2, 8, 16});
  EXPECT_THROW(causal_attention(q, mx::zeros({1, 3, 8, 16}), mx::zeros({1, 3, 8, 16}), 1.0f), mlxft::Error);
  EXPECT_THROW(causal_attention(q, mx::zeros({1, 2, 4, 16}), mx::zeros({1, 2, 4, 16}), 1.0f), mlxft::Error);
  EXPECT_THROW(causal_attention(q, kv, kv, 0.0f), mlxft::Error);
  EXPECT_THROW(causal_attention(q, kv, kv, 1.0f, mx::zeros({1, 7})), mlxft::Error);
  EXPECT_THROW(causal_attention(mx::zeros({4, 8, 16}), kv, kv, 1.0f), mlxft::Error);
}

}  // namespace
