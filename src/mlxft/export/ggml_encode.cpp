// Float -> ggml block layouts (see ggml_encode.h).
#include "mlxft/export/ggml_encode.h"

#include <cmath>
#include <cstring>

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

constexpr int kBlock = 32;

uint16_t to_f16(float v) {
  const mx::float16_t h(v);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

void put_f16(std::vector<uint8_t>& out, float v) {
  const uint16_t b = to_f16(v);
  out.push_back(static_cast<uint8_t>(b & 0xFF));
  out.push_back(static_cast<uint8_t>(b >> 8));
}

void q8_0_block(const float* x, std::vector<uint8_t>& out) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(out, d);
  for (int j = 0; j < kBlock; ++j)
    out.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id))));
}

void q4_0_block(const float* x, std::vector<uint8_t>& out) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(out, d);
  auto q = [&](int j) { return static_cast<uint8_t>(std::min(15, static_cast<int>(x[j] * id + 8.5f))); };
  for (int j = 0; j < kBlock / 2; ++j) out.push_back(static_cast<uint8_t>(q(j) | (q(j + kBlock / 2) << 4)));
}

}  // namespace

std::vector<uint8_t> ggml_encode(const mx::array& x, GgmlType type, const std::string& name) {
  std::vector<uint8_t> out;
  if (type == GgmlType::F16) {
    mx::array h = mx::astype(x, mx::float16);
    h.eval();
    out.resize(h.nbytes());
    std::memcpy(out.data(), h.data<mx::float16_t>(), h.nbytes());
    return out;
  }
  mx::array f = mx::contiguous(mx::astype(x, mx::float32));
  f.eval();
  const float* data = f.data<float>();
  const size_t n = f.size();
  if (type == GgmlType::F32) {
    out.resize(n * 4);
    std::memcpy(out.data(), data, n * 4);
    return out;
  }
  if (type != GgmlType::Q8_0 && type != GgmlType::Q4_0) {
    throw Error(ErrorKind::Model, name,
                "mlxft cannot write ggml type " + ggml_type_name(static_cast<uint32_t>(type)),
                "use f32, f16, q8_0 or q4_0");
  }
  if (f.ndim() == 0 || f.shape(-1) % kBlock != 0) {
    throw Error(
        ErrorKind::Model, name,
        "rows of " + std::to_string(f.ndim() ? f.shape(-1) : 1) + " values cannot be stored in blocks of 32",
        "keep this tensor in f16 or f32");
  }
  out.reserve(n / kBlock * (type == GgmlType::Q8_0 ? 34 : 18));
  for (size_t b = 0; b < n; b += kBlock) {
    if (type == GgmlType::Q8_0)
      q8_0_block(data + b, out);
    else
      q4_0_block(data + b, out);
  }
  return out;
}

}  // namespace mlxft
