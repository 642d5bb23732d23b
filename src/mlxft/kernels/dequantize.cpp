#include "mlxft/kernels/dequantize.h"

#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/row_math.h"

namespace mlxft::kernels {
namespace {

inline void store(float* p, float v) {
  *p = v;
}
inline void store(uint16_t* p, float v) {
  *p = to_bf16_bits(v);
}

inline float load(const float* p) {
  return *p;
}
inline float load(const uint16_t* p) {
  return from_bf16_bits(*p);
}

template <int kBits, class Out, class S>
void rows_impl(const AffineQuantized& q, const S* scales, const S* biases, int64_t r0, int64_t r1, Out* out) {
  constexpr int kPerWord = 32 / kBits;
  constexpr uint32_t kMask = (1u << kBits) - 1u;
  const int64_t words = q.cols / kPerWord, groups = q.cols / q.group;
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* wr = q.w + r * words;
    const S* sr = scales + r * groups;
    const S* br = biases + r * groups;
    Out* o = out + (r - r0) * q.cols;
    for (int64_t g = 0; g < groups; ++g) {
      const float s = load(sr + g), b = load(br + g);
      const int64_t c0 = g * q.group;
      for (int64_t c = c0; c < c0 + q.group; c += kPerWord) {
        const uint32_t word = wr[c / kPerWord];
        for (int j = 0; j < kPerWord; ++j) {
          store(o + c + j, s * static_cast<float>((word >> (kBits * j)) & kMask) + b);
        }
      }
    }
  }
}

template <class Out, class S>
void rows_bits(const AffineQuantized& q, const S* scales, const S* biases, int64_t r0, int64_t r1, Out* out) {
  if (q.bits == 4) return rows_impl<4>(q, scales, biases, r0, r1, out);
  if (q.bits == 8) return rows_impl<8>(q, scales, biases, r0, r1, out);
  return rows_impl<2>(q, scales, biases, r0, r1, out);
}

template <class Out>
void rows_dispatch(const AffineQuantized& q, int64_t r0, int64_t r1, Out* out) {
  if (q.scales_bf16) return rows_bits(q, q.scales_bf16, q.biases_bf16, r0, r1, out);
  return rows_bits(q, q.scales, q.biases, r0, r1, out);
}

}  // namespace

void dequantize_rows(const AffineQuantized& q, int64_t row_begin, int64_t row_end, float* out) {
  rows_dispatch(q, row_begin, row_end, out);
}
void dequantize_rows(const AffineQuantized& q, int64_t row_begin, int64_t row_end, uint16_t* out_bf16) {
  rows_dispatch(q, row_begin, row_end, out_bf16);
}

void dequantize(const AffineQuantized& q, float* out) {
  parallel_for(
      q.rows, [&](int64_t lo, int64_t hi) { dequantize_rows(q, lo, hi, out + lo * q.cols); }, 16);
}
void dequantize(const AffineQuantized& q, uint16_t* out_bf16) {
  parallel_for(
      q.rows, [&](int64_t lo, int64_t hi) { dequantize_rows(q, lo, hi, out_bf16 + lo * q.cols); }, 16);
}

}  // namespace mlxft::kernels
