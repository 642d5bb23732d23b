// GGUF tensor data into MLX arrays (see gguf_tensors.h).
#include "mlxft/model/gguf_tensors.h"

#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "mlxft/formats/ggml_dequant.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

std::string where_of(const GgufFile& f, const GgufTensorInfo& t) {
  return f.source + ": tensor '" + t.name + "'";
}

// An uninitialised, evaluated array of `shape` and `dtype`, written through a T*.
template <typename T>
std::pair<mx::array, T*> new_array(const mx::Shape& shape, mx::Dtype dtype) {
  size_t n = 1;
  for (int d : shape) n *= static_cast<size_t>(d);
  mx::array a(mx::allocator::malloc(std::max<size_t>(n, 1) * mx::size_of(dtype)), shape, dtype);
  return {a, a.data<T>()};
}

mx::Shape shape_of(const GgufTensorInfo& t) {
  return mx::Shape(t.shape.begin(), t.shape.end());
}

int64_t numel(const GgufTensorInfo& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  return n;
}

void check_size(const GgufFile& f, const GgufTensorInfo& t, std::span<const uint8_t> bytes) {
  const auto block = ggml_block(t.type);
  if (!gguf_type_loadable(t.type) || !block) {
    throw Error(ErrorKind::Model, where_of(f, t), "has type " + ggml_type_name(t.type) + ", which mlxft cannot load",
                "mlxft reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K; "
                "re-quantize with llama.cpp's llama-quantize to one of them (e.g. Q4_K_M or Q8_0)");
  }
  const uint64_t row = static_cast<uint64_t>(t.shape.back());
  if (row % block->elements != 0) {
    throw Error(ErrorKind::Model, where_of(f, t),
                fmt::format("row length {} is not a multiple of {}'s block of {}", row, ggml_type_name(t.type),
                            block->elements),
                "the file is corrupt; re-convert or re-download it");
  }
  const uint64_t want = static_cast<uint64_t>(numel(t)) / block->elements * block->bytes;
  if (bytes.size() != want) {
    throw Error(ErrorKind::Model, where_of(f, t),
                fmt::format("has {} bytes of data, its type and shape need {}", bytes.size(), want),
                "the file is truncated or corrupt; re-download or re-convert it");
  }
}

// q (one value of `bits` bits per byte) -> MLX's packing: a little-end-first bit stream in uint32 words.
void pack_row(const uint8_t* q, int64_t n, int bits, uint32_t* words) {
  uint64_t acc = 0;
  int filled = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc |= static_cast<uint64_t>(q[i]) << filled;
    filled += bits;
    if (filled >= 32) {
      *words++ = static_cast<uint32_t>(acc);
      acc >>= 32;
      filled -= 32;
    }
  }
}

}  // namespace

// From the bits: a float16 holds 1.m x 2^E for E in [-14, 15] with 10 mantissa bits, and multiples of
// 2^-24 below.
bool exactly_float16(std::span<const float> v) {
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(v[i]) & 0x7FFFFFFFu;
    if (bits == 0 || bits == 0x7F800000u) continue;  // +-0, +-inf
    const int e = static_cast<int>(bits >> 23) - 127;
    const uint32_t m = bits & 0x7FFFFFu;
    if (e > 15 || e < -24 || e == 128) return false;  // too large, too small, NaN
    const int dropped = e >= -14 ? 13 : -(e + 1);     // mantissa bits a float16 has no room for
    if ((m & ((1u << dropped) - 1)) != 0) return false;
  }
  return true;
}

namespace {

mx::array scales_array(mx::array f32, bool as_f16) {
  return as_f16 ? mx::astype(f32, mx::float16) : f32;
}

GgufTensorArrays affine_arrays(const GgufFile& f, const GgufTensorInfo& t, std::span<const uint8_t> bytes,
                               int bits) {
  const int64_t in = t.shape.back();
  const int64_t rows = numel(t) / in;
  const uint64_t row_bytes = static_cast<uint64_t>(in) / ggml_block(t.type)->elements * ggml_block(t.type)->bytes;
  mx::Shape wshape = shape_of(t), sshape = shape_of(t);
  wshape.back() = static_cast<int>(in * bits / 32);
  sshape.back() = static_cast<int>(in / 32);
  auto [w, words] = new_array<uint32_t>(wshape, mx::uint32);
  auto [s, scales] = new_array<float>(sshape, mx::float32);
  auto [b, biases] = new_array<float>(sshape, mx::float32);
  std::vector<uint8_t> q(static_cast<size_t>(in));
  const std::string where = where_of(f, t);
  for (int64_t r = 0; r < rows; ++r) {
    const size_t groups = static_cast<size_t>(in / 32);
    ggml_affine(t.type, bytes.subspan(static_cast<size_t>(r) * row_bytes, row_bytes), q,
                {scales + r * in / 32, groups}, {biases + r * in / 32, groups}, where);
    pack_row(q.data(), in, bits, words + r * (in * bits / 32));
  }
  const size_t n = static_cast<size_t>(rows * (in / 32));
  const bool f16 = exactly_float16({scales, n}) && exactly_float16({biases, n});
  GgufTensorArrays out{w, scales_array(s, f16), scales_array(b, f16), QuantSpec{bits, 32}};
  mx::eval({*out.scales, *out.biases});
  return out;
}

}  // namespace

bool gguf_type_loadable(uint32_t type) {
  return ggml_decodable(type);
}

std::string gguf_loaded_storage(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: return "float32";
    case GgmlType::F16: return "float16";
    case GgmlType::BF16: return "bfloat16";
    default: break;
  }
  if (!gguf_type_loadable(type)) return "not loadable";
  const int bits = ggml_affine_bits(type);
  return bits ? fmt::format("{}-bit g32", bits) : "float32";
}

mx::array gguf_tensor_float(const GgufFile& f, const GgufTensorInfo& t, std::span<const uint8_t> bytes) {
  check_size(f, t, bytes);
  auto [a, out] = new_array<float>(shape_of(t), mx::float32);
  ggml_dequantize(t.type, bytes, {out, static_cast<size_t>(numel(t))}, where_of(f, t));
  return a;
}

GgufTensorArrays gguf_tensor_arrays(const GgufFile& f, const GgufTensorInfo& t, std::span<const uint8_t> bytes) {
  check_size(f, t, bytes);
  const auto copy_as = [&](mx::Dtype dtype) {
    auto [a, out] = new_array<uint8_t>(shape_of(t), dtype);
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());  // little-endian, as stored
    return GgufTensorArrays{a, std::nullopt, std::nullopt, std::nullopt};
  };
  switch (static_cast<GgmlType>(t.type)) {
    case GgmlType::F32: return copy_as(mx::float32);
    case GgmlType::F16: return copy_as(mx::float16);
    case GgmlType::BF16: return copy_as(mx::bfloat16);
    default: break;
  }
  const int bits = ggml_affine_bits(t.type);
  if (bits && t.shape.size() >= 2) return affine_arrays(f, t, bytes, bits);
  return {gguf_tensor_float(f, t, bytes), std::nullopt, std::nullopt, std::nullopt};
}

GgufTensorReader::GgufTensorReader(const GgufFile& header, const std::filesystem::path& file)
    : header_(header), fd_(open_untrusted(file, "GGUF file")) {
  if (fd_.size() != header.file_size) {
    throw Error(ErrorKind::Model, file.string(),
                fmt::format("is {} bytes now, {} when its header was read", fd_.size(), header.file_size),
                "the file changed while mlxft read it; wait for the copy or download to finish");
  }
}

std::vector<uint8_t> GgufTensorReader::bytes(const GgufTensorInfo& t) const {
  if (t.offset > fd_.size() || t.bytes > fd_.size() - t.offset) {  // the header checked it; the file may not
    throw Error(ErrorKind::Model, where_of(header_, t),
                fmt::format("data [{}, {}) lies past the end of the file ({} bytes)", t.offset, t.offset + t.bytes,
                            fd_.size()),
                "the file is truncated; re-download or re-convert it");
  }
  std::vector<uint8_t> out(static_cast<size_t>(t.bytes));
  uint64_t done = 0;
  while (done < t.bytes) {
    const ssize_t got = ::pread(fd_.fd(), out.data() + done, static_cast<size_t>(t.bytes - done),
                                static_cast<off_t>(t.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw Error(ErrorKind::Model, where_of(header_, t),
                  got < 0 ? std::string("cannot be read: ") + std::strerror(errno)
                          : "ends early: the file is shorter than when its header was read",
                  "the file changed while mlxft read it, or the disk failed; re-download it");
    }
    done += static_cast<uint64_t>(got);
  }
  return out;
}

}  // namespace mlxft
