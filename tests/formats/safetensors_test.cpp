// The safetensors header check: round trip through MLX, and a clear Model
// error (never a crash or an out-of-bounds read) for truncated, lying and
// random files. Run under `make asan` to prove the "never out of bounds" part.
#include "mlxft/formats/safetensors.h"

#include <gtest/gtest.h>

#include <random>

#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file image: length, header JSON, `data_bytes` zero bytes.
std::string image(const std::string& header, size_t data_bytes) {
  return u64le(header.size()) + header + std::string(data_bytes, '\0');
}

// Expects parse to fail with a Model error whose message contains `needle`.
void expect_rejected(const std::string& bytes, const std::string& needle) {
  try {
    parse_safetensors_header(bytes, bytes.size(), "f.safetensors");
    FAIL() << "accepted a bad file (expected: " << needle << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f.safetensors"), std::string::npos) << e.what();
  }
}

const std::string kTwo =
    R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}, "__metadata__": {"format": "pt"}})";

TEST(Safetensors, AcceptsAValidHeader) {
  const auto h = parse_safetensors_header(image(kTwo, 22), 8 + kTwo.size() + 22, "f");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors.at("a").shape, (mx::Shape{2, 2}));
  EXPECT_EQ(h.tensors.at("b").end, 22u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(Safetensors, SaveLoadRoundTripIsAtomicAndExact) {
  test::TempDir dir;
  const mx::array w = mx::random::normal({3, 5}, mx::float32, mx::random::key(1));
  const mx::array b = mx::astype(mx::arange(4), mx::bfloat16);
  save_safetensors(dir / "m.safetensors", {{"w", w}, {"b", b}});
  EXPECT_FALSE(std::filesystem::exists(dir / "m.safetensors.tmp.safetensors"));
  const auto h = read_safetensors_header(dir / "m.safetensors");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  const auto loaded = load_safetensors(dir / "m.safetensors");
  EXPECT_TRUE(mx::array_equal(loaded.at("w"), w).item<bool>());
  EXPECT_EQ(loaded.at("b").dtype(), mx::bfloat16);
}

TEST(Safetensors, RejectsLyingHeaders) {
  expect_rejected("", "too short");
  expect_rejected("abc", "too short");
  expect_rejected(u64le(1000) + "{}", "longer than the file");
  expect_rejected(u64le(200ULL * 1000 * 1000) + "{}", "100 MB");
  expect_rejected(u64le(~0ULL) + "{}", "100 MB");
  expect_rejected(image("{not json", 0), "not valid JSON");
  expect_rejected(image("[1, 2]", 0), "not a JSON object");
  expect_rejected(image(R"({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}})", 1), "unknown");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
                  "non-negative");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}})", 8), "outside");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8), "outside");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8), "need 12");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                        12),
                  "overlaps");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8), "gap");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8),
                  "end at data byte 4");
  expect_rejected(
      image(
          R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}})",
          4),
      "32-bit");
  expect_rejected(image(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4), "data_offsets");
  expect_rejected(image(R"({"__metadata__": {"format": 1}})", 0), "__metadata__");
  // The file variant: a valid file cut short names the tensors' data.
  test::TempDir dir;
  const std::string full = image(kTwo, 22);
  test::write_file(dir / "cut.safetensors", full.substr(0, full.size() - 5));
  EXPECT_THROW(load_safetensors(dir / "cut.safetensors"), Error);
  test::write_file(dir / "head.safetensors", full.substr(0, 20));
  EXPECT_THROW(load_safetensors(dir / "head.safetensors"), Error);
}

// Random bytes, and random corruptions of a valid file: only mlxft::Error may come out.
TEST(Safetensors, FuzzedBytesNeverCrash) {
  std::mt19937 rng(42);
  const std::string valid = image(kTwo, 22);
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes;
    if (round % 3 == 0) {
      bytes.resize(rng() % 64);
      for (auto& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = valid.substr(0, valid.size() - (round % 2 ? rng() % valid.size() : 0));
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        if (!bytes.empty()) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
    }
    try {
      parse_safetensors_header(bytes, bytes.size(), "fuzz");
      ++accepted;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Model);
    }
  }
  EXPECT_LT(accepted, 3000);
}

}  // namespace
}  // namespace mlxft
