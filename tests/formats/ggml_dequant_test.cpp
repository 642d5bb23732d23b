// ggml block decoding against gguf-py: every type's values bit for bit equal to gguf-py's
// dequantization (golden: scripts/reference/ggml_dequant_golden.py), the affine form equal to them as
// numbers, float16 widening exact for all 65536 patterns, and size mismatches refused.
#include "mlxft/formats/ggml_dequant.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "formats/gguf_blocks.h"
#include "mlxft/formats/gguf_file.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using G = GgmlType;

const std::vector<G> kAll = {G::F16,  G::BF16, G::Q4_0, G::Q4_1, G::Q5_0, G::Q5_1, G::Q8_0,
                             G::Q2_K, G::Q3_K, G::Q4_K, G::Q5_K, G::Q6_K};

struct Golden {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> bits;
};

Golden golden(G type) {
  static const auto g = load_safetensors(test::source_dir() / "tests/golden/ggml_dequant/blocks.safetensors");
  const std::string name = ggml_type_name(static_cast<uint32_t>(type));
  const mx::array& b = g.at(name + ".bytes");
  const mx::array& v = g.at(name + ".bits");
  mx::eval({b, v});
  return {{b.data<uint8_t>(), b.data<uint8_t>() + b.size()}, {v.data<uint32_t>(), v.data<uint32_t>() + v.size()}};
}

TEST(GgmlDequant, EveryTypeEqualsGgufPyBitForBit) {
  for (G type : kAll) {
    const Golden g = golden(type);
    const auto t = static_cast<uint32_t>(type);
    ASSERT_TRUE(ggml_decodable(t)) << ggml_type_name(t);
    std::vector<float> out(g.bits.size());
    ggml_dequantize(t, g.bytes, out, "golden");
    size_t differing = 0, nonzero = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      differing += std::bit_cast<uint32_t>(out[i]) != g.bits[i];
      nonzero += out[i] != 0.0f;
    }
    EXPECT_EQ(differing, 0u) << ggml_type_name(t) << " of " << out.size();
    EXPECT_GT(nonzero, out.size() / 2) << ggml_type_name(t);  // the golden is not degenerate
  }
}

TEST(GgmlDequant, TheAffineFormGivesTheSameValues) {
  for (G type : {G::Q4_0, G::Q4_1, G::Q5_0, G::Q5_1, G::Q8_0, G::Q4_K, G::Q5_K}) {
    const auto t = static_cast<uint32_t>(type);
    const Golden g = golden(type);
    const size_t n = g.bits.size();
    const int bits = ggml_affine_bits(t);
    EXPECT_EQ(bits, type == G::Q8_0 ? 8 : (type == G::Q5_0 || type == G::Q5_1 || type == G::Q5_K) ? 5 : 4);
    std::vector<uint8_t> q(n);
    std::vector<float> scales(n / 32), biases(n / 32);
    ggml_affine(t, g.bytes, q, scales, biases, "golden");
    for (size_t i = 0; i < n; ++i) {
      ASSERT_LT(q[i], 1u << bits) << ggml_type_name(t);
      const float v = scales[i / 32] * static_cast<float>(q[i]) + biases[i / 32];
      EXPECT_EQ(v, std::bit_cast<float>(g.bits[i])) << ggml_type_name(t) << " element " << i;
    }
  }
  for (G type : {G::Q2_K, G::Q3_K, G::Q6_K, G::F16}) EXPECT_EQ(ggml_affine_bits(static_cast<uint32_t>(type)), 0);
}

TEST(GgmlDequant, Float16WideningIsExactForEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    mx::float16_t x;
    const auto bits = static_cast<uint16_t>(h);
    std::memcpy(&x, &bits, 2);
    const float want = static_cast<float>(x), got = f16_to_float(bits);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << h;
    }
  }
}

TEST(GgmlDequant, SizesThatDoNotMatchAreRefusedNamingTheTensor) {
  const auto q4k = static_cast<uint32_t>(G::Q4_K);
  std::vector<uint8_t> bytes = test::random_blocks(q4k, 512, 3);
  std::vector<float> out(512);
  ggml_dequantize(q4k, bytes, out, "m.gguf: tensor 'x'");
  bytes.pop_back();
  try {
    ggml_dequantize(q4k, bytes, out, "m.gguf: tensor 'x'");
    FAIL() << "decoded a short tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "m.gguf: tensor 'x'");
    EXPECT_NE(std::string(e.what()).find("287 bytes do not hold 512 elements of Q4_K"), std::string::npos)
        << e.what();
  }
  std::vector<float> odd(300);  // not a multiple of 256
  EXPECT_THROW(ggml_dequantize(q4k, bytes, odd, "x"), Error);
  EXPECT_THROW(ggml_dequantize(static_cast<uint32_t>(G::IQ2_XS), bytes, out, "x"), Error);
  std::vector<uint8_t> q(512);
  std::vector<float> s(16), b(16);
  EXPECT_THROW(ggml_affine(static_cast<uint32_t>(G::Q6_K), bytes, q, s, b, "x"), Error);  // no affine form
}

}  // namespace
}  // namespace mlxft
