// libFuzzer target: any bytes as a GGUF file. parse_gguf must either throw
// mlxft::Error or return a header whose every tensor lies inside the input,
// aligned, without overlaps; the llama config reader must only throw
// mlxft::Error on what it accepts. Every tensor of a type mlxft decodes (up to
// 64K elements) is decoded from the input's bytes (ggml_dequantize) and, where
// the type has one, into its affine form (ggml_affine), whose values must equal
// the decoded ones wherever the scales are finite.
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <span>
#include <vector>

#include "mlxft/formats/ggml_dequant.h"
#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mlxft::GgufFile f;
  try {
    f = mlxft::parse_gguf(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const mlxft::Error&) {
    return 0;
  }
  uint64_t last_end = 0;
  for (const auto& t : f.tensors) {
    if (t.offset < f.data_offset || t.offset % f.alignment != 0 || t.bytes > size ||
        t.offset > size - t.bytes) {
      std::abort();
    }
    last_end = std::max(last_end, t.offset + t.bytes);
  }
  if (last_end > size) std::abort();
  for (const auto& t : f.tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    if (!mlxft::ggml_decodable(t.type) || n > (1u << 16)) continue;
    const std::span<const uint8_t> bytes(data + t.offset, t.bytes);
    std::vector<float> values(n);
    mlxft::ggml_dequantize(t.type, bytes, values, "fuzz");  // the header vouched for the size: no throw
    const int bits = mlxft::ggml_affine_bits(t.type);
    if (bits == 0) continue;
    std::vector<uint8_t> q(n);
    std::vector<float> scales(n / 32), biases(n / 32);
    mlxft::ggml_affine(t.type, bytes, q, scales, biases, "fuzz");
    for (uint64_t i = 0; i < n; ++i) {
      const float s = scales[i / 32], b = biases[i / 32];
      if (q[i] >= (1u << bits)) std::abort();
      if (!std::isfinite(s) || !std::isfinite(b) || !std::isfinite(values[i])) continue;
      if (s * static_cast<float>(q[i]) + b != values[i]) std::abort();
    }
  }
  try {
    (void)mlxft::gguf_model_config(f);
  } catch (const mlxft::Error&) {
  }
  return 0;
}
