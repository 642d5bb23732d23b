// ggml_encode: F32/F16 bytes, and Q8_0/Q4_0 blocks byte-for-byte as gguf-py's quantizers (which
// mirror ggml-quants.c) write them (golden: scripts/reference/ggml_blocks.py).
#include "mlxft/export/ggml_encode.h"

#include <gtest/gtest.h>

#include <cstring>

#include "mlxft/formats/safetensors.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

std::vector<uint8_t> bytes_of(mx::array a) {
  a = mx::contiguous(mx::astype(a, mx::uint8));
  a.eval();
  return {a.data<uint8_t>(), a.data<uint8_t>() + a.size()};
}

TEST(GgmlEncode, QuantizedBlocksEqualGgufPyByteForByte) {
  const auto g = load_safetensors(test::source_dir() / "tests/golden/gguf_export/blocks.safetensors");
  const mx::array& x = g.at("x");
  EXPECT_EQ(ggml_encode(x, GgmlType::Q8_0, "x"), bytes_of(g.at("q8_0")));
  EXPECT_EQ(ggml_encode(x, GgmlType::Q4_0, "x"), bytes_of(g.at("q4_0")));
}

TEST(GgmlEncode, FloatTypesAreLittleEndianValues) {
  const mx::array x({1.0f, -2.5f, 0.1f}, {1, 3});
  const auto f32 = ggml_encode(x, GgmlType::F32, "x");
  ASSERT_EQ(f32.size(), 12u);
  float back[3];
  std::memcpy(back, f32.data(), 12);
  EXPECT_EQ(back[1], -2.5f);
  const auto f16 = ggml_encode(x, GgmlType::F16, "x");
  ASSERT_EQ(f16.size(), 6u);
  EXPECT_EQ(f16[2], 0x00);  // -2.5 in IEEE half is 0xC100, little-endian
  EXPECT_EQ(f16[3], 0xC1);
}

TEST(GgmlEncode, RowsThatDoNotFillBlocksAndUnknownTypesAreErrors) {
  const mx::array x = mx::ones({2, 48});
  EXPECT_THROW(ggml_encode(x, GgmlType::Q8_0, "t"), Error);
  EXPECT_THROW(ggml_encode(mx::ones({2, 64}), GgmlType::Q4_1, "t"), Error);
}

}  // namespace
}  // namespace mlxft
