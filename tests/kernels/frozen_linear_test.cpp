// FrozenLinear against MLX's own matmul: outputs and dx (through mx::vjp), float32, bfloat16 and
// quantized weights, odd shapes, one token, 3-D inputs, and the MLX-op path.
//
// Tolerances (inputs ~N(0,1), W ~N(0, 1/in) so outputs are O(1)):
//   float32 compute: 1e-4 absolute (only the summation order differs from OpenBLAS).
//   bfloat16 compute: against float32 math on the bf16-rounded x and W, 1e-3 absolute for float32
//     outputs (accumulation order), 2e-2 for bfloat16 outputs (one bf16 rounding of O(1) values).
//     Without oneDNN (MLX ops) a bf16 matmul rounds its output to bf16 even for float32 x: 2e-2.
#include "mlxft/kernels/frozen_linear.h"

#include <gtest/gtest.h>

#include "kernels/kernel_test_util.h"
#include "mlxft/kernels/quantized_rows.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace k = mlxft::kernels;
using kernel_test::bf16_rounded;
using kernel_test::max_abs_diff;
using kernel_test::normal;

namespace {

// Tolerance of a float32 result computed in bf16: the kernel accumulates and returns float32,
// MLX's bf16 matmul (the path without oneDNN) returns bf16.
float bf16_f32_tol() {
  return mlxft::have_onednn() ? 1e-3f : 2e-2f;
}

// y = x W^T and dx = dy W in float32 MLX ops.
mx::array ref_y(const mx::array& x, const mx::array& w) {
  return mx::matmul(mx::astype(x, mx::float32), mx::transpose(mx::astype(w, mx::float32)));
}

mx::array grad_x(const mx::array& x, const mx::array& dy,
                 const std::function<mx::array(const mx::array&)>& f) {
  auto [out, vjps] =
      mx::vjp([&](const std::vector<mx::array>& in) { return std::vector<mx::array>{f(in[0])}; }, {x}, {dy});
  return vjps[0];
}

struct Case {
  mx::Shape x_shape;
  int out;
};

void check_dense(const Case& c, mx::Dtype compute, mx::Dtype x_dtype, k::FrozenLinearOptions o, float tol) {
  const int in = c.x_shape.back();
  const mx::array w = normal({c.out, in}, 1.0f / std::sqrt(static_cast<float>(in)), 1);
  const mx::array x = mx::astype(normal(c.x_shape, 1.0f, 2), x_dtype);
  o.compute_dtype = compute;
  const auto fw = k::make_frozen_linear_weight(w, o);
  const mx::array wc = compute == mx::bfloat16 ? bf16_rounded(w) : w;
  const mx::array xc = compute == mx::bfloat16 ? bf16_rounded(x) : mx::astype(x, mx::float32);
  const mx::array y = k::frozen_linear(x, fw);
  mx::Shape ys = c.x_shape;
  ys.back() = c.out;
  ASSERT_EQ(y.shape(), ys);
  ASSERT_EQ(y.dtype(), x_dtype);
  EXPECT_LT(max_abs_diff(y, ref_y(xc, wc)), tol);

  mx::array dy = mx::astype(normal(ys, 1.0f, 3), x_dtype);
  const mx::array dx = grad_x(x, dy, [&](const mx::array& a) { return k::frozen_linear(a, fw); });
  ASSERT_EQ(dx.shape(), x.shape());
  ASSERT_EQ(dx.dtype(), x_dtype);
  const mx::array dyc = compute == mx::bfloat16 ? bf16_rounded(dy) : mx::astype(dy, mx::float32);
  EXPECT_LT(max_abs_diff(dx, mx::matmul(dyc, wc)), tol * 2);
}

const std::vector<Case> kCases = {{{37, 77}, 53}, {{1, 64}, 96}, {{2, 5, 77}, 130}, {{256, 576}, 200}};

}  // namespace

TEST(KernelFrozenLinear, Float32MatchesMlx) {
  for (const auto& c : kCases) check_dense(c, mx::float32, mx::float32, {}, 1e-4f);
}

TEST(KernelFrozenLinear, Float32PackedAndPackedBackward) {
  k::FrozenLinearOptions o;
  o.pack = true;
  for (const auto& c : kCases) check_dense(c, mx::float32, mx::float32, o, 1e-4f);
  o.pack = true;
  o.pack_backward = true;
  for (const auto& c : kCases) check_dense(c, mx::float32, mx::float32, o, 1e-4f);
}

TEST(KernelFrozenLinear, Bfloat16ComputeFloat32Input) {
  k::FrozenLinearOptions o;
  o.pack = true;
  o.pack_backward = true;
  for (const auto& c : kCases) check_dense(c, mx::bfloat16, mx::float32, o, bf16_f32_tol());
}

TEST(KernelFrozenLinear, Bfloat16ComputeBfloat16Input) {
  for (const auto& c : kCases) check_dense(c, mx::bfloat16, mx::bfloat16, {}, 2e-2f);
}

TEST(KernelFrozenLinear, Bfloat16InputFloat32Compute) {
  for (const auto& c : kCases) check_dense(c, mx::float32, mx::bfloat16, {}, 2e-2f);
}

TEST(KernelFrozenLinear, QuantizedMatchesDequantizedMatmul) {
  const int in = 192, out = 70;
  const mx::array w = normal({out, in}, 0.1f, 4);
  const mx::array x = normal({3, 11, in}, 1.0f, 5);
  for (int bits : {4, 8}) {
    for (int group : {32, 64}) {
      auto q = mx::quantize(w, group, bits);
      const mx::array wd = mx::dequantize(q[0], q[1], q[2], group, bits);
      for (auto mode : {k::QuantizedMode::DequantizeOnce, k::QuantizedMode::DequantizePerCall}) {
        for (bool pack : {false, true}) {
          k::FrozenLinearOptions o;
          o.pack = pack;
          const auto fw = k::make_frozen_linear_weight(q[0], q[1], q[2], group, bits, o, mode);
          // the quantized form stays only where it is dequantized per call (the few-row kernel reads it)
          EXPECT_EQ(fw->quantized(), mode == k::QuantizedMode::DequantizePerCall);
          EXPECT_LT(max_abs_diff(k::frozen_linear(x, fw), ref_y(x, wd)), 1e-4f) << bits << "/" << group;
          const mx::array dy = normal({3, 11, out}, 1.0f, 6);
          const mx::array dx = grad_x(x, dy, [&](const mx::array& a) { return k::frozen_linear(a, fw); });
          EXPECT_LT(max_abs_diff(dx, mx::matmul(dy, wd)), 1e-4f);
        }
      }
      k::FrozenLinearOptions ob;
      ob.compute_dtype = mx::bfloat16;
      const auto fb = k::make_frozen_linear_weight(q[0], q[1], q[2], group, bits, ob,
                                                   k::QuantizedMode::DequantizePerCall);
      EXPECT_LT(max_abs_diff(k::frozen_linear(x, fb), ref_y(bf16_rounded(x), bf16_rounded(wd))),
                bf16_f32_tol());
    }
  }
}

// bfloat16 scales and biases (mlx-community's 4-bit models) are read as stored: a per-call weight holds
// the packed codes and the bf16 triplet only (no float32 copy, 0.9 GB at 7B with group 64), dequantizes
// as MLX does, and the few-row product makes its float32 copy on first use.
TEST(KernelFrozenLinear, Bf16ScalesAreReadAsStored) {
  const int in = 256, out = 48;
  const mx::array w = mx::astype(normal({out, in}, 0.1f, 15), mx::bfloat16);
  const mx::array x = normal({2, 5, in}, 1.0f, 16);
  auto q = mx::quantize(w, 64, 4);
  mx::eval(q);
  ASSERT_EQ(q[1].dtype(), mx::bfloat16);
  const mx::array wd = mx::astype(
      mx::dequantize(q[0], mx::astype(q[1], mx::float32), mx::astype(q[2], mx::float32), 64, 4), mx::float32);
  const auto fw =
      k::make_frozen_linear_weight(q[0], q[1], q[2], 64, 4, {}, k::QuantizedMode::DequantizePerCall);
  const size_t stored = q[0].nbytes() + q[1].nbytes() + q[2].nbytes();
  EXPECT_EQ(fw->resident_bytes(), stored);
  EXPECT_LT(max_abs_diff(k::frozen_linear(x, fw), ref_y(x, wd)), 1e-4f);
  const auto once =
      k::make_frozen_linear_weight(q[0], q[1], q[2], 64, 4, {}, k::QuantizedMode::DequantizeOnce);
  EXPECT_LT(max_abs_diff(k::frozen_linear(x, once), ref_y(x, wd)), 1e-4f);
  const mx::array row = normal({1, in}, 1.0f, 17);
  EXPECT_LT(max_abs_diff(k::quantized_rows_matmul(row, *fw), ref_y(row, wd)), 1e-3f);
  EXPECT_EQ(fw->resident_bytes(), stored + 2 * q[1].size() * 4);  // the rows' float32 scales and biases
}

TEST(KernelFrozenLinear, MlxPathMatchesKernel) {
  const mx::array w = normal({33, 65}, 0.1f, 7);
  const mx::array x = normal({9, 65}, 1.0f, 8);
  const auto fw = k::make_frozen_linear_weight(w);
  EXPECT_LT(max_abs_diff(fw->reference(x), k::frozen_linear(x, fw)), 1e-4f);
  EXPECT_EQ(fw->uses_dnnl(), mlxft::have_onednn());
  // Gradients compose with MLX's: d/dx sum(sin(x W^T)) = cos(x W^T) W.
  auto loss = [&](const mx::array& a) { return mx::sum(mx::sin(k::frozen_linear(a, fw))); };
  const mx::array g = mx::grad(loss)(x);
  // jvp: the product itself, applied to the tangent.
  const mx::array t = normal({9, 65}, 1.0f, 14);
  auto [y, ty] = mx::jvp(
      [&](const std::vector<mx::array>& in) { return std::vector<mx::array>{k::frozen_linear(in[0], fw)}; },
      {x}, {t});
  EXPECT_LT(max_abs_diff(ty[0], ref_y(t, w)), 1e-4f);
  EXPECT_LT(max_abs_diff(g, mx::matmul(mx::cos(ref_y(x, w)), w)), 1e-4f);
}

TEST(KernelFrozenLinear, PackedCopyIsAccounted) {
  const mx::array w = normal({64, 128}, 0.1f, 9);
  k::FrozenLinearOptions o;
  o.pack = false;
  EXPECT_EQ(k::make_frozen_linear_weight(w, o)->resident_bytes(), 64u * 128 * 4);
  o.pack = true;
  const size_t packed = k::make_frozen_linear_weight(w, o)->resident_bytes();
  if (mlxft::have_onednn()) {  // the packed copy, page-rounded
    EXPECT_GE(packed, 2u * 64 * 128 * 4);
    EXPECT_LE(packed, 2u * 64 * 128 * 4 + 8192);
  } else {
    EXPECT_EQ(packed, 64u * 128 * 4);
  }
}

TEST(KernelFrozenLinear, RejectsMismatchedShapes) {
  const auto fw = k::make_frozen_linear_weight(normal({8, 16}, 0.1f, 10));
  EXPECT_THROW(k::frozen_linear(normal({4, 15}, 1.0f, 11), fw), mlxft::Error);
  EXPECT_THROW(k::make_frozen_linear_weight(normal({2, 8, 16}, 0.1f, 12)), mlxft::Error);
  const mx::array w = normal({8, 64}, 0.1f, 13);
  auto q = mx::quantize(w, 64, 4);
  EXPECT_THROW(k::make_frozen_linear_weight(q[0], q[1], q[2], 32, 4), mlxft::Error);
}

TEST(KernelCpuFeatures, IsaIsConsistent) {
  const auto& f = mlxft::cpu_features();
  if (f.amx_bf16) {
    EXPECT_EQ(mlxft::best_cpu_isa(), mlxft::CpuIsa::Amx);
  }
  if (f.avx512_bf16 || f.amx_bf16) {
    EXPECT_TRUE(f.avx512f);
  }
  EXPECT_STRNE(mlxft::to_string(mlxft::best_cpu_isa()), "");
}
