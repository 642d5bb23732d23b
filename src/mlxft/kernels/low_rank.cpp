// The low-rank products as CPU kernels (see low_rank.h).
#include "mlxft/kernels/low_rank.h"

#include <mlx/primitives.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/f32_span.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/simd_exp.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

enum class Op { Down, Up, Outer };

#if defined(__x86_64__)
constexpr int kRows = 4;  // rows of x (or c) per register block
constexpr int kCols = 4;  // 16-lane vectors (down: rows of s) per register block

// 16 values of a float32 or bfloat16 row from element i, zero past the mask.
template <bool Bf16>
MLXFT_AVX512_TARGET inline __m512 load16(const void* p, int64_t i, __mmask16 k) {
  if constexpr (Bf16) {
    const __m256i h = _mm256_maskz_loadu_epi16(k, static_cast<const uint16_t*>(p) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_maskz_loadu_ps(k, static_cast<const float*>(p) + i);
  }
}

template <bool Bf16>
MLXFT_AVX512_TARGET inline void store16(void* p, int64_t i, __mmask16 k, __m512 v) {
  if constexpr (Bf16) {
    _mm256_mask_storeu_epi16(static_cast<uint16_t*>(p) + i, k, bf16_512(v));
  } else {
    _mm512_mask_storeu_ps(static_cast<float*>(p) + i, k, v);
  }
}

// out[m, j] = scale * sum_k x[m, k] s[j, k] for rows [m0, m1). A block past the last row or s row
// recomputes the last one (same values, same thread) instead of branching in the inner loop.
template <bool Bf16>
MLXFT_AVX512_TARGET void down_rows(const void* x, const float* s, int64_t K, int64_t r, float scale,
                                   int64_t m0, int64_t m1, float* out) {
  for (int64_t m = m0; m < m1; m += kRows) {
    int64_t row[kRows];
    for (int a = 0; a < kRows; ++a) row[a] = std::min(m + a, m1 - 1);
    for (int64_t j = 0; j < r; j += kCols) {
      int64_t col[kCols];
      for (int b = 0; b < kCols; ++b) col[b] = std::min(j + b, r - 1);
      __m512 acc[kRows][kCols];
      for (auto& line : acc)
        for (auto& v : line) v = _mm512_setzero_ps();
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 mk = lanes(K - k);
        __m512 sv[kCols];
        for (int b = 0; b < kCols; ++b) sv[b] = _mm512_maskz_loadu_ps(mk, s + col[b] * K + k);
        for (int a = 0; a < kRows; ++a) {
          const __m512 xv = load16<Bf16>(x, row[a] * K + k, mk);
          for (int b = 0; b < kCols; ++b) acc[a][b] = _mm512_fmadd_ps(xv, sv[b], acc[a][b]);
        }
      }
      for (int a = 0; a < kRows; ++a)
        for (int b = 0; b < kCols; ++b) out[row[a] * r + col[b]] = scale * _mm512_reduce_add_ps(acc[a][b]);
    }
  }
}

// out[m, n] = y[m, n] + sum_j c[m, j] s[j, n] for rows [m0, m1) (y may be null: zero).
template <bool YBf16, bool OutBf16>
MLXFT_AVX512_TARGET void up_rows(const float* c, const float* s, const void* y, int64_t N, int64_t r,
                                 int64_t m0, int64_t m1, void* out) {
  for (int64_t m = m0; m < m1; m += kRows) {
    int64_t row[kRows];
    for (int a = 0; a < kRows; ++a) row[a] = std::min(m + a, m1 - 1);
    for (int64_t n = 0; n < N; n += 16 * kCols) {
      __mmask16 mk[kCols];
      for (int v = 0; v < kCols; ++v) mk[v] = lanes(N - n - 16 * v);
      __m512 acc[kRows][kCols];
      for (int a = 0; a < kRows; ++a)
        for (int v = 0; v < kCols; ++v)
          acc[a][v] = y ? load16<YBf16>(y, row[a] * N + n + 16 * v, mk[v]) : _mm512_setzero_ps();
      for (int64_t j = 0; j < r; ++j) {
        __m512 sv[kCols];
        for (int v = 0; v < kCols; ++v) sv[v] = _mm512_maskz_loadu_ps(mk[v], s + j * N + n + 16 * v);
        for (int a = 0; a < kRows; ++a) {
          const __m512 cb = _mm512_set1_ps(c[row[a] * r + j]);
          for (int v = 0; v < kCols; ++v) acc[a][v] = _mm512_fmadd_ps(cb, sv[v], acc[a][v]);
        }
      }
      for (int a = 0; a < kRows; ++a)
        for (int v = 0; v < kCols; ++v) store16<OutBf16>(out, row[a] * N + n + 16 * v, mk[v], acc[a][v]);
    }
  }
}

// Rows and column strips of x per block of the outer product (below): a block of float32 x is 32 KB.
constexpr int64_t kOuterRows = 64;
constexpr int64_t kOuterStrips = 4;

// Copies 16 values of a float32 or bfloat16 row from element i to dst, zeros past the mask.
template <bool Bf16>
MLXFT_AVX512_TARGET inline void copy16(void* dst, const void* src, int64_t i, __mmask16 k) {
  if constexpr (Bf16) {
    _mm256_storeu_si256(static_cast<__m256i*>(dst),
                        _mm256_maskz_loadu_epi16(k, static_cast<const uint16_t*>(src) + i));
  } else {
    _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(k, static_cast<const float*>(src) + i));
  }
}

// Rows [m0, m0 + rows) of x's strips [g0, g1) (W columns each, zeros past K) into block, strip after
// strip, each strip's rows contiguous; read row by row (whole row segments, which memory streams), the
// same segments a block later prefetched. T: float, or uint16_t for bfloat16 bits.
template <int64_t W, class T>
MLXFT_AVX512_TARGET void copy_block(const T* x, int64_t M, int64_t K, int64_t m0, int64_t rows, int64_t g0,
                                    int64_t g1, T* block) {
  for (int64_t m = 0; m < rows; ++m) {
    const int64_t next = std::min(m0 + m + kOuterRows, M - 1);
    for (int64_t g = g0; g < g1; ++g)
      for (int64_t v = 0; v < W; v += 16) {
        const int64_t k = g * W + v;
        copy16<std::is_same_v<T, uint16_t>>(block + ((g - g0) * kOuterRows + m) * W + v, x, (m0 + m) * K + k, lanes(K - k));
        _mm_prefetch(reinterpret_cast<const char*>(x + next * K + k), _MM_HINT_T1);
      }
  }
}

// out[j, k..k+16V) (+)= sum over the block's rows m of c[m0 + m, j] strip[m], every j: from zero at the
// first block (m0 = 0), else from the sums so far in out (float32, so each sum is the one of a single
// pass over m in order).
template <int J, int V, class T>
MLXFT_AVX512_TARGET void strip_product(const float* c, const T* strip, int64_t K, int64_t r, int64_t m0,
                                       int64_t rows, int64_t k, float* out) {
  __mmask16 mk[V];
  for (int v = 0; v < V; ++v) mk[v] = lanes(K - k - 16 * v);
  for (int64_t j = 0; j < r; j += J) {
    int64_t row[J];
    for (int b = 0; b < J; ++b) row[b] = std::min(j + b, r - 1);
    __m512 acc[J][V];
    for (int b = 0; b < J; ++b)
      for (int v = 0; v < V; ++v)
        acc[b][v] =
            m0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk[v], out + row[b] * K + k + 16 * v);
    for (int64_t m = 0; m < rows; ++m) {
      __m512 xv[V];
      for (int v = 0; v < V; ++v)
        xv[v] = load16<std::is_same_v<T, uint16_t>>(strip, m * 16 * V + 16 * v, 0xFFFF);
      for (int b = 0; b < J; ++b) {
        const __m512 cb = _mm512_set1_ps(c[(m0 + m) * r + row[b]]);
        for (int v = 0; v < V; ++v) acc[b][v] = _mm512_fmadd_ps(cb, xv[v], acc[b][v]);
      }
    }
    for (int b = 0; b < J; ++b)
      for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(out + row[b] * K + k + 16 * v, mk[v], acc[b][v]);
  }
}

// out[j, k] = sum_m c[m, j] x[m, k] for the column strips [s0, s1) of 16 V columns, every j. x is read
// once, in blocks of kOuterRows rows by kOuterStrips strips (copy_block): a strip's own 64-byte pieces
// of 2048 rows, the order the product wants, ran at a fifth of the speed once x had left the cache, as
// it has in a training step (kernels_bench --only lora, "x from memory").
template <int J, int V, bool Bf16>
void outer_strips(const float* c, const void* x, int64_t M, int64_t K, int64_t r, int64_t s0, int64_t s1,
                  float* out) {
  using T = std::conditional_t<Bf16, uint16_t, float>;
  constexpr int64_t W = 16 * V;
  alignas(64) T block[kOuterStrips * kOuterRows * W];
  for (int64_t m0 = 0; m0 < M; m0 += kOuterRows) {
    const int64_t rows = std::min(kOuterRows, M - m0);
    for (int64_t g0 = s0; g0 < s1; g0 += kOuterStrips) {
      const int64_t g1 = std::min(s1, g0 + kOuterStrips);
      copy_block<W>(static_cast<const T*>(x), M, K, m0, rows, g0, g1, block);
      for (int64_t g = g0; g < g1; ++g)
        strip_product<J, V>(c, block + (g - g0) * kOuterRows * W, K, r, m0, rows, g * W, out);
    }
  }
}

template <int J, int V>
void run_outer_strips(const mx::array& c, const mx::array& x, mx::array& out) {
  const int64_t M = c.shape(0), r = c.shape(1), K = x.shape(1);
  const bool bf16 = x.dtype() == mx::bfloat16;
  parallel_for((K + 16 * V - 1) / (16 * V), [&](int64_t lo, int64_t hi) {
    if (bf16)
      outer_strips<J, V, true>(c.data<float>(), x.data<void>(), M, K, r, lo, hi, out.data<float>());
    else
      outer_strips<J, V, false>(c.data<float>(), x.data<void>(), M, K, r, lo, hi, out.data<float>());
  });
}

// fn(m0, m1) over M rows split on register-block bounds, at least 8 blocks a thread.
template <class Fn>
void for_row_blocks(int64_t M, Fn&& fn) {
  parallel_for((M + kRows - 1) / kRows,
               [&](int64_t lo, int64_t hi) { fn(lo * kRows, std::min(M, hi * kRows)); }, 8);
}

void run_down(const mx::array& x, const mx::array& s, float scale, mx::array& out) {
  const int64_t K = x.shape(1), r = s.shape(0);
  const bool bf16 = x.dtype() == mx::bfloat16;
  for_row_blocks(x.shape(0), [&](int64_t m0, int64_t m1) {
    if (bf16)
      down_rows<true>(x.data<void>(), s.data<float>(), K, r, scale, m0, m1, out.data<float>());
    else
      down_rows<false>(x.data<void>(), s.data<float>(), K, r, scale, m0, m1, out.data<float>());
  });
}

void run_up(const mx::array& c, const mx::array& s, const mx::array* y, mx::array& out) {
  const int64_t r = c.shape(1), N = s.shape(1);
  const bool ybf = y && y->dtype() == mx::bfloat16, obf = out.dtype() == mx::bfloat16;
  const void* yp = y ? y->data<void>() : nullptr;
  const float *cp = c.data<float>(), *sp = s.data<float>();
  void* op = out.data<void>();
  for_row_blocks(c.shape(0), [&](int64_t m0, int64_t m1) {
    if (ybf && obf)
      up_rows<true, true>(cp, sp, yp, N, r, m0, m1, op);
    else if (ybf)
      up_rows<true, false>(cp, sp, yp, N, r, m0, m1, op);
    else if (obf)
      up_rows<false, true>(cp, sp, yp, N, r, m0, m1, op);
    else
      up_rows<false, false>(cp, sp, yp, N, r, m0, m1, op);
  });
}

void run_outer(const mx::array& c, const mx::array& x, mx::array& out) {
  if (c.shape(1) >= 8)
    run_outer_strips<8, 2>(c, x, out);
  else
    run_outer_strips<kRows, kCols>(c, x, out);
}
#endif

// Down: in {x, s}. Up: in {c, s[, y]}. Outer: in {c, x}. All contiguous 2-D.
class LowRankPrimitive : public mx::Primitive {
 public:
  LowRankPrimitive(mx::Stream st, Op op, float scale) : mx::Primitive(st), op_(op), scale_(scale) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([in, out, op = op_, scale = scale_]() mutable {
#if defined(__x86_64__)
      switch (op) {
        case Op::Down: return run_down(in[0], in[1], scale, out[0]);
        case Op::Up: return run_up(in[0], in[1], in.size() > 2 ? &in[2] : nullptr, out[0]);
        case Op::Outer: return run_outer(in[0], in[1], out[0]);
      }
#else
      (void)in, (void)out, (void)op, (void)scale;
#endif
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("LowRank has no GPU kernel: the low_rank ops use MLX ops there");
  }
  const char* name() const override {
    return op_ == Op::Down ? "LowRankDown" : op_ == Op::Up ? "LowRankUp" : "LowRankOuter";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const LowRankPrimitive*>(&other);
    return o && o->op_ == op_ && o->scale_ == scale_;
  }

 private:
  Op op_;
  float scale_;
};

void check_2d(const mx::array& a, const char* what) {
  if (a.ndim() != 2) throw Error(ErrorKind::Training, "low_rank", std::string(what) + " must be 2-D");
}

mx::array contiguous_f32(const mx::array& a, const mx::Stream& st) {
  return mx::contiguous(mx::astype(a, mx::float32, st), false, st);
}

bool any_empty(const mx::array& a, const mx::array& b) {
  return a.size() == 0 || b.size() == 0;
}

}  // namespace

bool low_rank_kernels_run_on(const mx::Stream& s, mx::Dtype x_dtype) {
  return low_rank_kernels_switched_on(s) && cpu_features().avx512f && f32_or_bf16(x_dtype);
}

mx::array low_rank_down_reference(const mx::array& x, const mx::array& s, float scale,
                                  mx::StreamOrDevice st) {
  const mx::array prod = mx::matmul(mx::astype(x, mx::float32, st), mx::transpose(s, st), st);
  return mx::multiply(prod, mx::array(scale), st);
}

mx::array low_rank_up_reference(const mx::array& c, const mx::array& s, const std::optional<mx::array>& y,
                                mx::Dtype dtype, mx::StreamOrDevice st) {
  const mx::array prod = mx::matmul(c, s, st);
  return mx::astype(y ? mx::add(mx::astype(*y, mx::float32, st), prod, st) : prod, dtype, st);
}

mx::array low_rank_outer_reference(const mx::array& c, const mx::array& x, mx::StreamOrDevice st) {
  return mx::matmul(mx::transpose(c, st), mx::astype(x, mx::float32, st), st);
}

mx::array low_rank_down(const mx::array& x, const mx::array& s, float scale, mx::StreamOrDevice st) {
  check_2d(x, "x"), check_2d(s, "s");
  const mx::Stream stream = mx::to_stream(st);
  if (x.shape(1) != s.shape(1)) throw Error(ErrorKind::Training, "low_rank_down", "x and s differ in K");
  if (!low_rank_kernels_run_on(stream, x.dtype()) || any_empty(x, s))
    return low_rank_down_reference(x, s, scale, stream);
  return mx::array({x.shape(0), s.shape(0)}, mx::float32,
                   std::make_shared<LowRankPrimitive>(stream, Op::Down, scale),
                   {mx::contiguous(x, false, stream), contiguous_f32(s, stream)});
}

mx::array low_rank_up(const mx::array& c, const mx::array& s, const std::optional<mx::array>& y,
                      mx::Dtype dtype, mx::StreamOrDevice st) {
  check_2d(c, "c"), check_2d(s, "s");
  const mx::Stream stream = mx::to_stream(st);
  if (c.shape(1) != s.shape(0)) throw Error(ErrorKind::Training, "low_rank_up", "c and s differ in r");
  if (y && (y->ndim() != 2 || y->shape(0) != c.shape(0) || y->shape(1) != s.shape(1)))
    throw Error(ErrorKind::Training, "low_rank_up", "y must be [M, N]");
  const bool takes_y = !y || f32_or_bf16(y->dtype());
  if (!low_rank_kernels_run_on(stream, dtype) || !takes_y || any_empty(c, s))
    return low_rank_up_reference(c, s, y, dtype, stream);
  std::vector<mx::array> in = {contiguous_f32(c, stream), contiguous_f32(s, stream)};
  if (y) in.push_back(mx::contiguous(*y, false, stream));
  return mx::array({c.shape(0), s.shape(1)}, dtype, std::make_shared<LowRankPrimitive>(stream, Op::Up, 1.0f),
                   std::move(in));
}

mx::array low_rank_outer(const mx::array& c, const mx::array& x, mx::StreamOrDevice st) {
  check_2d(c, "c"), check_2d(x, "x");
  const mx::Stream stream = mx::to_stream(st);
  if (c.shape(0) != x.shape(0)) throw Error(ErrorKind::Training, "low_rank_outer", "c and x differ in M");
  if (!low_rank_kernels_run_on(stream, x.dtype()) || any_empty(c, x))
    return low_rank_outer_reference(c, x, stream);
  return mx::array({c.shape(1), x.shape(1)}, mx::float32,
                   std::make_shared<LowRankPrimitive>(stream, Op::Outer, 1.0f),
                   {contiguous_f32(c, stream), mx::contiguous(x, false, stream)});
}

}  // namespace mlxft::kernels
