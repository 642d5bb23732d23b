// The few-row quantized product (see quantized_rows.h).
#include "mlxft/kernels/quantized_rows.h"

#include <mlx/primitives.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/frozen_linear_impl.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/simd_exp.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/cpu_features.h"

namespace mlxft::kernels {
namespace {

constexpr int64_t kMaxRows = 8;

struct Job {
  const uint32_t* w;
  const float* scales;
  const float* biases;
  const float* x;     // [M, K]
  const float* xsum;  // [M, K / group]
  float* y;           // [M, N]
  int64_t M, N, K;
  int group, bits;
};

// Code k of row n (bits 4 or 8, little end first within each uint32).
inline uint32_t code(const uint32_t* row, int64_t k, int bits) {
  const int per = 32 / bits;
  return (row[k / per] >> ((k % per) * bits)) & ((1u << bits) - 1u);
}

void rows_portable(const Job& j, int64_t n0, int64_t n1) {
  const int64_t words = j.K * j.bits / 32, groups = j.K / j.group;
  for (int64_t n = n0; n < n1; ++n) {
    const uint32_t* row = j.w + n * words;
    for (int64_t m = 0; m < j.M; ++m) {
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        float dot = 0.0f;
        for (int64_t k = g * j.group; k < (g + 1) * j.group; ++k)
          dot += static_cast<float>(code(row, k, j.bits)) * j.x[m * j.K + k];
        acc += j.scales[n * groups + g] * dot + j.biases[n * groups + g] * j.xsum[m * groups + g];
      }
      j.y[m * j.N + n] = acc;
    }
  }
}

#if defined(__x86_64__)
// 16 8-bit codes starting at element k of a row, as floats.
template <int kBits>
MLXFT_AVX512_TARGET inline __m512 codes16(const uint8_t* bytes, int64_t k) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + k))));
}

MLXFT_AVX512_TARGET inline float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanes(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// kM rows at once, their accumulators in registers (two per row: two independent FMA chains).
template <int kBits, int kM>
MLXFT_AVX512_TARGET void rows_avx512(const Job& j, int64_t n0, int64_t n1) {
  const int64_t groups = j.K / j.group, row_bytes = j.K * kBits / 8;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = reinterpret_cast<const uint8_t*>(j.w) + n * row_bytes;
    const float* sr = j.scales + n * groups;
    __m512 acc0[kM], acc1[kM];
    for (int m = 0; m < kM; ++m) acc0[m] = acc1[m] = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; ++g) {
      const __m512 s = _mm512_set1_ps(sr[g]);
      for (int64_t k = g * j.group; k < (g + 1) * j.group; k += 32) {
        __m512 q0, q1;
        if constexpr (kBits == 4) {  // 16 bytes: 32 codes, low nibble first
          const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
          const __m128i lo = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
          const __m128i hi = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f));
          q0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
          q1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(lo, hi)));
        } else {
          q0 = codes16<kBits>(row, k);
          q1 = codes16<kBits>(row, k + 16);
        }
        q0 = _mm512_mul_ps(q0, s);
        q1 = _mm512_mul_ps(q1, s);
        for (int m = 0; m < kM; ++m) {
          const float* xm = j.x + m * j.K + k;
          acc0[m] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(xm), acc0[m]);
          acc1[m] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(xm + 16), acc1[m]);
        }
      }
    }
    const float* br = j.biases + n * groups;
    for (int m = 0; m < kM; ++m)
      j.y[m * j.N + n] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[m], acc1[m])) + dot_avx512(br, j.xsum + m * groups, groups);
  }
}

template <int kBits>
void rows_avx512_m(const Job& j, int64_t n0, int64_t n1) {
  using Fn = void (*)(const Job&, int64_t, int64_t);
  static constexpr Fn table[kMaxRows] = {rows_avx512<kBits, 1>, rows_avx512<kBits, 2>, rows_avx512<kBits, 3>,
                                         rows_avx512<kBits, 4>, rows_avx512<kBits, 5>, rows_avx512<kBits, 6>,
                                         rows_avx512<kBits, 7>, rows_avx512<kBits, 8>};
  table[j.M - 1](j, n0, n1);
}
#endif

void run_range(const Job& j, int64_t n0, int64_t n1) {
#if defined(__x86_64__)
  static const bool avx512 = cpu_features().avx512f;
  if (avx512) return j.bits == 4 ? rows_avx512_m<4>(j, n0, n1) : rows_avx512_m<8>(j, n0, n1);
#endif
  rows_portable(j, n0, n1);
}

void run(const Job& j) {
  parallel_for(j.N, [&](int64_t n0, int64_t n1) { run_range(j, n0, n1); }, 64);
}

// in: x [M, K] f32, w, scales f32, biases f32. out: y [M, N] f32.
class QuantizedRowsPrimitive : public mx::Primitive {
 public:
  QuantizedRowsPrimitive(mx::Stream s, int group, int bits) : mx::Primitive(s), group_(group), bits_(bits) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([in, y = out[0], group = group_, bits = bits_]() mutable {
      const int64_t M = in[0].shape(0), K = in[0].shape(1), N = in[1].shape(0), groups = K / group;
      std::vector<float> xsum(static_cast<size_t>(M * groups), 0.0f);
      const float* x = in[0].data<float>();
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) xsum[static_cast<size_t>(m * groups + k / group)] += x[m * K + k];
      run({in[1].data<uint32_t>(), in[2].data<float>(), in[3].data<float>(), x, xsum.data(), y.data<float>(), M,
           N, K, group, bits});
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("QuantizedRows has no GPU kernel: use mx::quantized_matmul there");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    std::vector<mx::array> grads;
    for (int i : argnums) {
      if (i == 0) {
        grads.push_back(mx::quantized_matmul(cotangents[0], primals[1], primals[2], primals[3], false, group_,
                                             bits_, "affine", stream()));
      } else {
        grads.push_back(mx::zeros_like(primals[static_cast<size_t>(i)], stream()));
      }
    }
    return grads;
  }
  const char* name() const override {
    return "QuantizedRows";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const QuantizedRowsPrimitive*>(&other);
    return o && o->group_ == group_ && o->bits_ == bits_;
  }

 private:
  int group_, bits_;
};

}  // namespace

void quantized_rows_range(const QuantizedRows& w, const float* x, const float* xsum, int64_t rows, float* y,
                          int64_t n0, int64_t n1) {
  run_range({w.w, w.scales, w.biases, x, xsum, y, rows, w.N, w.K, w.group, w.bits}, n0, n1);
}

void quantized_rows_dequantize_row(const QuantizedRows& w, int64_t n, float* out) {
  const int64_t groups = w.K / w.group, words = w.K * w.bits / 32;
  const uint32_t* row = w.w + n * words;
  for (int64_t k = 0; k < w.K; ++k) {
    const int64_t g = n * groups + k / w.group;
    out[k] = w.scales[g] * static_cast<float>(code(row, k, w.bits)) + w.biases[g];
  }
}

QuantizedRows quantized_rows_view(const FrozenLinearWeight& w, std::vector<mx::array>& keep) {
  const FrozenLinearWeight::Impl& q = w.impl();
  if (!q.quantized || (q.bits != 4 && q.bits != 8) || q.group % 32 != 0)
    throw std::invalid_argument("quantized_rows_view: not a 4- or 8-bit quantized weight in groups of 32k");
  const auto [scales, biases] = q.rows_scales();
  const mx::array wq = mx::contiguous(*q.wq);
  mx::eval({wq, scales, biases});
  keep.insert(keep.end(), {wq, scales, biases});
  return {wq.data<uint32_t>(), scales.data<float>(), biases.data<float>(), q.out, q.in, q.group, q.bits};
}

bool quantized_rows_supported(const mx::array& x, int group_size, int bits, mx::StreamOrDevice s) {
  if (!cpu_kernels_run_on(mx::to_stream(s)) || x.ndim() < 1) return false;
  const int64_t rows = static_cast<int64_t>(x.size()) / x.shape(-1);
  return rows <= kMaxRows && (bits == 4 || bits == 8) && group_size % 32 == 0 &&
         (x.dtype() == mx::float32 || x.dtype() == mx::bfloat16);
}

mx::array quantized_rows_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                                const mx::array& biases, int group_size, int bits, mx::StreamOrDevice s) {
  const mx::Stream stream = mx::to_stream(s);
  if (!quantized_rows_supported(x, group_size, bits, stream)) {
    return mx::quantized_matmul(x, w, mx::astype(scales, x.dtype(), stream),
                                mx::astype(biases, x.dtype(), stream), true, group_size, bits, "affine",
                                stream);
  }
  const int K = x.shape(-1);
  auto f32 = [&](const mx::array& a) { return mx::contiguous(mx::astype(a, mx::float32, stream), false, stream); };
  const mx::array x2 = f32(mx::reshape(x, {-1, K}, stream));
  auto prim = std::make_shared<QuantizedRowsPrimitive>(stream, group_size, bits);
  const mx::array y = mx::array({x2.shape(0), w.shape(0)}, mx::float32, prim,
                                {x2, mx::contiguous(w, false, stream), f32(scales), f32(biases)});
  mx::Shape out(x.shape().begin(), x.shape().end() - 1);
  out.push_back(w.shape(0));
  return mx::astype(mx::reshape(y, out, stream), x.dtype(), stream);
}

mx::array quantized_rows_matmul(const mx::array& x, const FrozenLinearWeight& w, mx::StreamOrDevice s) {
  const FrozenLinearWeight::Impl& q = w.impl();
  if (!q.quantized) throw std::invalid_argument("quantized_rows_matmul: the weight is not quantized");
  const auto [scales, biases] = q.rows_scales();
  return quantized_rows_matmul(x, *q.wq, scales, biases, q.group, q.bits, s);
}

mx::array quantized_matmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                           const mx::array& biases, int group_size, int bits,
                           const FrozenLinearWeight* prepared, mx::StreamOrDevice s) {
  const mx::Stream stream = mx::to_stream(s);
  if (quantized_rows_supported(x, group_size, bits, stream)) {
    if (prepared && prepared->quantized()) return quantized_rows_matmul(x, *prepared, stream);
    return quantized_rows_matmul(x, w, scales, biases, group_size, bits, stream);
  }
  auto as_x = [&](const mx::array& a) {
    return a.dtype() == x.dtype() ? a : mx::astype(a, x.dtype(), stream);
  };
  return mx::quantized_matmul(x, w, as_x(scales), as_x(biases), true, group_size, bits, "affine", stream);
}

}  // namespace mlxft::kernels
