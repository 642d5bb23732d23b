// Decoding ggml blocks (see ggml_dequant.h). Written from the block layouts of ggml-common.h and the
// arithmetic of ggml-quants.c's dequantize_row_* (facts of the format, not their code).
//
// Every quantized block is decoded into one integer q per element and, per group of 16 or 32
// elements, two floats a and b; the element's value is then one of three forms:
//   Offset: float(q - offset) * a    (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K)
//   AddMin: float(q) * a + b         (Q4_1, Q5_1)
//   SubMin: a * float(q) - b         (Q2_K, Q4_K, Q5_K)
// which is ggml's own order of operations for each type.
#include "mlxft/formats/ggml_dequant.h"

#include <array>
#include <bit>
#include <cstring>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

enum class Form { Offset, AddMin, SubMin };

struct Layout {
  int group;   // elements per (a, b) pair
  Form form;
  int offset;  // Offset form only
  int bits;    // of q
};

constexpr int kMaxBlock = 256;  // QK_K, the largest block

std::optional<Layout> layout_of(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::Q4_0: return Layout{32, Form::Offset, 8, 4};
    case GgmlType::Q4_1: return Layout{32, Form::AddMin, 0, 4};
    case GgmlType::Q5_0: return Layout{32, Form::Offset, 16, 5};
    case GgmlType::Q5_1: return Layout{32, Form::AddMin, 0, 5};
    case GgmlType::Q8_0: return Layout{32, Form::Offset, 128, 8};
    case GgmlType::Q2_K: return Layout{16, Form::SubMin, 0, 2};
    case GgmlType::Q3_K: return Layout{16, Form::Offset, 4, 3};
    case GgmlType::Q4_K: return Layout{32, Form::SubMin, 0, 4};
    case GgmlType::Q5_K: return Layout{32, Form::SubMin, 0, 5};
    case GgmlType::Q6_K: return Layout{16, Form::Offset, 32, 6};
    default: return std::nullopt;
  }
}

float f16_at(const uint8_t* p) {
  return f16_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes. Bytes 0..3 hold
// the low 6 bits of scales 0..3, bytes 4..7 those of mins 0..3; for j >= 4 the low 4 bits come from
// byte j + 4 (scale: its low nibble, min: its high nibble) and the top 2 from the top bits of bytes
// j - 4 (scale) and j (min).
void scale_min_k4(int j, const uint8_t* s, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// One block of `type` -> q[elements] and (a, b) per group.
void decode_block(GgmlType type, const uint8_t* x, uint8_t* q, float* a, float* b) {
  switch (type) {
    case GgmlType::Q4_0:  // {f16 d; u8 qs[16]}: element j in qs[j]'s low nibble, j + 16 in its high one
    case GgmlType::Q4_1: {  // {f16 d, m; u8 qs[16]}
      const bool has_min = type == GgmlType::Q4_1;
      a[0] = f16_at(x);
      b[0] = has_min ? f16_at(x + 2) : 0.0f;
      const uint8_t* qs = x + (has_min ? 4 : 2);
      for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 0x0F;
        q[j + 16] = qs[j] >> 4;
      }
      return;
    }
    case GgmlType::Q5_0:  // {f16 d; u8 qh[4]; u8 qs[16]}: bit j of qh (little-endian u32) is q[j]'s 5th
    case GgmlType::Q5_1: {  // {f16 d, m; u8 qh[4]; u8 qs[16]}
      const bool has_min = type == GgmlType::Q5_1;
      a[0] = f16_at(x);
      b[0] = has_min ? f16_at(x + 2) : 0.0f;
      const uint8_t* p = x + (has_min ? 4 : 2);
      const uint32_t qh = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                          (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
      const uint8_t* qs = p + 4;
      for (int j = 0; j < 16; ++j) {
        q[j] = static_cast<uint8_t>((qs[j] & 0x0F) | (((qh >> j) & 1u) << 4));
        q[j + 16] = static_cast<uint8_t>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
      }
      return;
    }
    case GgmlType::Q8_0: {  // {f16 d; i8 qs[32]}
      a[0] = f16_at(x);
      b[0] = 0.0f;
      for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(x[2 + j] ^ 0x80);  // int8 + 128
      return;
    }
    case GgmlType::Q2_K: {  // {u8 scales[16]; u8 qs[64]; f16 d, dmin}
      const uint8_t* scales = x;
      const uint8_t* qs = x + 16;
      const float d = f16_at(x + 80), dmin = f16_at(x + 82);
      for (int g = 0; g < 16; ++g) {  // low nibble: scale, high nibble: min
        a[g] = d * static_cast<float>(scales[g] & 0x0F);
        b[g] = dmin * static_cast<float>(scales[g] >> 4);
      }
      // Each half of 128 elements uses 32 bytes of qs; its 4 pairs of groups take bits (0-1, 2-3, 4-5,
      // 6-7): the first group of a pair from bytes 0..15, the second from bytes 16..31.
      for (int half = 0; half < 2; ++half) {
        for (int s = 0; s < 4; ++s) {
          for (int l = 0; l < 32; ++l) {
            q[half * 128 + s * 32 + l] = (qs[half * 32 + l] >> (2 * s)) & 3;
          }
        }
      }
      return;
    }
    case GgmlType::Q3_K: {  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}
      const uint8_t* hmask = x;
      const uint8_t* qs = x + 32;
      const uint8_t* sc = x + 96;
      const float d = f16_at(x + 108);
      for (int g = 0; g < 16; ++g) {  // 6-bit scale: low 4 bits from bytes 0..7, top 2 from bytes 8..11
        const int low = g < 8 ? (sc[g] & 0x0F) : (sc[g - 8] >> 4);
        const int high = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        a[g] = d * static_cast<float>((low | (high << 4)) - 32);
        b[g] = 0.0f;
      }
      // As Q2_K for the low 2 bits; the third bit of element 32k + l is bit k of hmask[l] (q - 4 when
      // it is clear, q when set: offset 4 on q | bit << 2).
      for (int half = 0; half < 2; ++half) {
        for (int s = 0; s < 4; ++s) {
          for (int l = 0; l < 32; ++l) {
            const int e = half * 128 + s * 32 + l;
            const int low = (qs[half * 32 + l] >> (2 * s)) & 3;
            const int high = (hmask[l] >> (e / 32)) & 1;
            q[e] = static_cast<uint8_t>(low | (high << 2));
          }
        }
      }
      return;
    }
    case GgmlType::Q4_K:    // {f16 d, dmin; u8 scales[12]; u8 qs[128]}
    case GgmlType::Q5_K: {  // {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
      const bool five = type == GgmlType::Q5_K;
      const float d = f16_at(x), dmin = f16_at(x + 2);
      const uint8_t* scales = x + 4;
      const uint8_t* qh = x + 16;
      const uint8_t* qs = x + (five ? 48 : 16);
      for (int g = 0; g < 8; ++g) {
        int sc = 0, m = 0;
        scale_min_k4(g, scales, sc, m);
        a[g] = d * static_cast<float>(sc);
        b[g] = dmin * static_cast<float>(m);
      }
      // Sub-blocks 2c and 2c + 1 share qs[32c .. 32c + 31]: low nibbles, then high nibbles; Q5_K's fifth
      // bit of element 32g + l is bit g of qh[l].
      for (int g = 0; g < 8; ++g) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t byte = qs[(g / 2) * 32 + l];
          int v = g % 2 == 0 ? (byte & 0x0F) : (byte >> 4);
          if (five) v |= ((qh[l] >> g) & 1) << 4;
          q[g * 32 + l] = static_cast<uint8_t>(v);
        }
      }
      return;
    }
    case GgmlType::Q6_K: {  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}
      const uint8_t* ql = x;
      const uint8_t* qh = x + 128;
      const auto* scales = reinterpret_cast<const int8_t*>(x + 192);
      const float d = f16_at(x + 208);
      for (int g = 0; g < 16; ++g) {
        a[g] = d * static_cast<float>(scales[g]);
        b[g] = 0.0f;
      }
      // Each half of 128 elements: ql[64 h .. 64 h + 63], qh[32 h .. 32 h + 31]. Element 128h + 32s + l
      // (s = 0..3) takes the low nibble of ql[l] (s 0), of ql[l + 32] (s 1), their high nibbles (s 2, 3),
      // and bits 2s, 2s + 1 of qh[l] as its top two bits.
      for (int h = 0; h < 2; ++h) {
        const uint8_t* l4 = ql + 64 * h;
        const uint8_t* h2 = qh + 32 * h;
        for (int s = 0; s < 4; ++s) {
          for (int l = 0; l < 32; ++l) {
            const uint8_t byte = l4[l + (s % 2) * 32];
            const int low = s < 2 ? (byte & 0x0F) : (byte >> 4);
            const int high = (h2[l] >> (2 * s)) & 3;
            q[128 * h + 32 * s + l] = static_cast<uint8_t>(low | (high << 4));
          }
        }
      }
      return;
    }
    default: return;
  }
}

float value(const Layout& L, uint8_t q, float a, float b) {
  switch (L.form) {
    case Form::Offset: return static_cast<float>(static_cast<int>(q) - L.offset) * a;
    case Form::AddMin: return static_cast<float>(q) * a + b;
    case Form::SubMin: return a * static_cast<float>(q) - b;
  }
  return 0.0f;
}

Error size_error(const std::string& where, const std::string& what) {
  return Error(ErrorKind::Model, where, what, "the tensor's data does not match its type and shape");
}

// The block count `data` holds for `elements` of `type`, checked.
uint64_t blocks_for(uint32_t type, uint64_t data_bytes, uint64_t elements, const std::string& where) {
  const auto block = ggml_block(type);
  if (!block || !ggml_decodable(type)) {
    throw Error(ErrorKind::Model, where, "ggml type " + ggml_type_name(type) + " cannot be decoded by mlxft",
                "mlxft decodes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K");
  }
  if (elements % block->elements != 0 || data_bytes != elements / block->elements * block->bytes) {
    throw size_error(where, std::to_string(data_bytes) + " bytes do not hold " + std::to_string(elements) +
                                " elements of " + ggml_type_name(type));
  }
  return elements / block->elements;
}

}  // namespace

bool ggml_decodable(uint32_t type) {
  const auto t = static_cast<GgmlType>(type);
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || layout_of(type).has_value();
}

int ggml_affine_bits(uint32_t type) {
  const auto L = layout_of(type);
  return L && L->group == 32 ? L->bits : 0;
}

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // infinity, or NaN with its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {  // subnormal, mantissa * 2^-24: normalise
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

void ggml_dequantize(uint32_t type, std::span<const uint8_t> data, std::span<float> out,
                     const std::string& where) {
  const uint64_t n = out.size();
  const uint64_t blocks = blocks_for(type, data.size(), n, where);
  const uint8_t* p = data.data();
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      for (uint64_t i = 0; i < n; ++i) {
        uint32_t bits = 0;
        std::memcpy(&bits, p + 4 * i, 4);  // little-endian hosts only, as the rest of mlxft
        out[i] = std::bit_cast<float>(bits);
      }
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) out[i] = f16_at(p + 2 * i);
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i)
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(p[2 * i] | (p[2 * i + 1] << 8)) << 16);
      return;
    default: break;
  }
  const Layout L = *layout_of(type);
  const GgmlBlock block = *ggml_block(type);
  std::array<uint8_t, kMaxBlock> q{};
  std::array<float, kMaxBlock / 16> a{}, b{};
  for (uint64_t k = 0; k < blocks; ++k) {
    decode_block(static_cast<GgmlType>(type), p + k * block.bytes, q.data(), a.data(), b.data());
    float* y = out.data() + k * block.elements;
    for (uint64_t e = 0; e < block.elements; ++e) y[e] = value(L, q[e], a[e / L.group], b[e / L.group]);
  }
}

void ggml_affine(uint32_t type, std::span<const uint8_t> data, std::span<uint8_t> q, std::span<float> scales,
                 std::span<float> biases, const std::string& where) {
  const int bits = ggml_affine_bits(type);
  if (bits == 0) {
    throw Error(ErrorKind::Model, where, ggml_type_name(type) + " has no 32-element affine form",
                "dequantize it instead (ggml_dequantize)");
  }
  const uint64_t n = q.size();
  const uint64_t blocks = blocks_for(type, data.size(), n, where);
  if (scales.size() != n / 32 || biases.size() != n / 32) {
    throw size_error(where, "scales and biases must hold one value per 32 elements");
  }
  const Layout L = *layout_of(type);
  const GgmlBlock block = *ggml_block(type);
  std::array<float, kMaxBlock / 32> a{}, b{};
  const uint64_t groups = block.elements / 32;
  for (uint64_t k = 0; k < blocks; ++k) {
    decode_block(static_cast<GgmlType>(type), data.data() + k * block.bytes, q.data() + k * block.elements,
                 a.data(), b.data());
    for (uint64_t g = 0; g < groups; ++g) {
      const uint64_t at = k * groups + g;
      scales[at] = a[g];
      biases[at] = L.form == Form::Offset   ? static_cast<float>(-L.offset) * a[g]
                   : L.form == Form::AddMin ? b[g]
                                            : -b[g];
    }
  }
}

}  // namespace mlxft
