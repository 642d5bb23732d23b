// Test helpers: reference ggml quantizers (Q8_0, Q4_0, Q4_1) written from
// ggml's block layouts and reference quantize_row_* / dequantize_row_*
// functions (ggml-common.h, ggml-quants.c), and byte views of float data, for
// building GGUF files by hand. Each quantizer returns the block bytes and the
// values ggml's dequantizer gives for them. random_blocks() makes valid blocks
// of any quantized type mlxft decodes: random bytes with sane float16 scales.
#pragma once

#include <mlx/mlx.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace mlxft::test {

struct Quantized {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;  // what ggml reads back, row-major like the input
};

inline void put_f16(std::vector<uint8_t>& out, float v, float& rounded) {
  const mlx::core::float16_t h(v);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  out.push_back(static_cast<uint8_t>(bits & 0xFF));
  out.push_back(static_cast<uint8_t>(bits >> 8));
  rounded = static_cast<float>(h);
}

// Q8_0, 34 bytes per 32 values: {f16 d; i8 qs[32]}, d = amax / 127, q = round(x / d), y = q d.
inline Quantized quantize_q8_0(const std::vector<float>& x) {
  Quantized r;
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    float dh;
    put_f16(r.bytes, d, dh);
    for (size_t j = 0; j < 32; ++j) {
      const auto q = static_cast<int8_t>(std::round(x[b + j] * id));
      r.bytes.push_back(static_cast<uint8_t>(q));
      r.dequantized.push_back(static_cast<float>(q) * dh);
    }
  }
  return r;
}

// Q4_0, 18 bytes per 32 values: {f16 d; u8 qs[16]}, d = (signed value of largest magnitude) / -8,
// q = min(15, int(x / d + 8.5)); byte j holds element j (low nibble) and j + 16 (high); y = (q - 8) d.
inline Quantized quantize_q4_0(const std::vector<float>& x) {
  Quantized r;
  r.dequantized.resize(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0, max = 0;
    for (size_t j = 0; j < 32; ++j) {
      if (std::fabs(x[b + j]) > amax) {
        amax = std::fabs(x[b + j]);
        max = x[b + j];
      }
    }
    const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
    float dh;
    put_f16(r.bytes, d, dh);
    for (size_t j = 0; j < 16; ++j) {
      const auto q0 =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[b + j] * id + 8.5f))));
      const auto q1 = static_cast<uint8_t>(
          std::min(15, static_cast<int>(static_cast<int8_t>(x[b + j + 16] * id + 8.5f))));
      r.bytes.push_back(static_cast<uint8_t>(q0 | (q1 << 4)));
      r.dequantized[b + j] = (static_cast<float>(q0) - 8.0f) * dh;
      r.dequantized[b + j + 16] = (static_cast<float>(q1) - 8.0f) * dh;
    }
  }
  return r;
}

// Q4_1, 20 bytes per 32 values: {f16 d; f16 m; u8 qs[16]}, d = (max - min) / 15, m = min,
// q = min(15, int((x - min) / d + 0.5)), same nibble order as Q4_0; y = q d + m.
inline Quantized quantize_q4_1(const std::vector<float>& x) {
  Quantized r;
  r.dequantized.resize(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    const auto [lo, hi] =
        std::minmax_element(x.begin() + static_cast<long>(b), x.begin() + static_cast<long>(b + 32));
    const float min = *lo, d = (*hi - *lo) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
    float dh, mh;
    put_f16(r.bytes, d, dh);
    put_f16(r.bytes, min, mh);
    for (size_t j = 0; j < 16; ++j) {
      const auto q0 = static_cast<uint8_t>(
          std::min(15, static_cast<int>(static_cast<int8_t>((x[b + j] - min) * id + 0.5f))));
      const auto q1 = static_cast<uint8_t>(
          std::min(15, static_cast<int>(static_cast<int8_t>((x[b + j + 16] - min) * id + 0.5f))));
      r.bytes.push_back(static_cast<uint8_t>(q0 | (q1 << 4)));
      r.dequantized[b + j] = static_cast<float>(q0) * dh + mh;
      r.dequantized[b + j + 16] = static_cast<float>(q1) * dh + mh;
    }
  }
  return r;
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& x) {
  std::vector<uint8_t> out(x.size() * 4);
  std::memcpy(out.data(), x.data(), out.size());
  return out;
}

// F16 bytes; `rounded` receives the values they hold.
inline std::vector<uint8_t> f16_bytes(const std::vector<float>& x, std::vector<float>& rounded) {
  std::vector<uint8_t> out;
  rounded.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) put_f16(out, x[i], rounded[i]);
  return out;
}

// Deterministic pseudo-random values in [-scale, scale).
inline std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
  }
  return v;
}

// Random blocks of a quantized `type` for `elements` values: random bytes, every float16 field (the
// d / dmin / m of ggml-common.h's block structs) a value of magnitude [lo, hi) and either sign.
inline std::vector<uint8_t> random_blocks(uint32_t type, size_t elements, uint32_t seed, float lo = 1e-5f,
                                          float hi = 1e-4f) {
  struct Layout {
    uint32_t type;
    size_t elements, bytes;
    std::vector<size_t> f16;
  };
  static const std::vector<Layout> layouts = {
      {2, 32, 18, {0}},     {3, 32, 20, {0, 2}},     {6, 32, 22, {0}},      {7, 32, 24, {0, 2}},
      {8, 32, 34, {0}},     {10, 256, 84, {80, 82}}, {11, 256, 110, {108}}, {12, 256, 144, {0, 2}},
      {13, 256, 176, {0, 2}}, {14, 256, 210, {208}}};
  const Layout* L = nullptr;
  for (const auto& l : layouts) L = l.type == type ? &l : L;
  if (!L) throw std::invalid_argument("random_blocks: not a quantized type mlxft decodes");
  const size_t blocks = elements / L->elements;
  std::vector<uint8_t> out(blocks * L->bytes);
  uint32_t s = seed * 2654435761u + 7;
  auto next = [&] {
    s = s * 1664525u + 1013904223u;
    return s;
  };
  for (auto& b : out) b = static_cast<uint8_t>(next() >> 24);
  for (size_t k = 0; k < blocks; ++k) {
    for (size_t off : L->f16) {
      const float u = static_cast<float>(next() >> 8) / 16777216.0f;
      float v = lo + (hi - lo) * u;
      if (next() & 0x100000u) v = -v;
      std::vector<uint8_t> h;
      float rounded;
      put_f16(h, v, rounded);
      out[k * L->bytes + off] = h[0];
      out[k * L->bytes + off + 1] = h[1];
    }
  }
  return out;
}

}  // namespace mlxft::test
