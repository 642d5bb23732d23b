// GGUF tensor data read by mlxft itself (no mlx::core::load_gguf) into the arrays a model holds.
//
// Contract: GgufTensorReader opens the file a GgufFile header was parsed from and reads one tensor's
// bytes at the offset the header gives (the header has placed every tensor inside the file; the
// reader checks the file still has the size it had, so a file truncated since is a Model error naming
// file and tensor, never a short read). gguf_tensor_arrays() turns those bytes into what mlxft holds:
//   F32 -> float32, F16 -> float16, BF16 -> bfloat16, as stored;
//   Q4_0, Q4_1, Q4_K (4 bits), Q5_0, Q5_1, Q5_K (5 bits), Q8_0 (8 bits) -> MLX's affine triplet of
//     group size 32 (formats/ggml_dequant.h: ggml_affine): weight uint32 [rows, in * bits / 32]
//     (values packed little end first, as mx::quantize does), scales and biases [rows, in / 32] in
//     float16 when every scale and bias of the tensor is exactly a float16 (Q4_0, Q5_0, Q8_0 and the
//     Q4_1/Q5_1 mins are float16 in the file), else float32: a k-quant's scale d * sc is a float16
//     times a 6-bit integer (up to 17 significant bits; float16 has 11, bfloat16 8), so float16 would
//     round it (tests/model/gguf_tensors_test.cpp measures by how much). With float32 scales every
//     dequantized value equals ggml's; rounding enters only where a run computes in bfloat16 (the
//     kernels and MLX's ops cast scales, biases or the dequantized weight to the compute dtype);
//   Q2_K, Q3_K, Q6_K (16-element sub-blocks, which no MLX group size holds exactly) -> float32 with
//     ggml's exact values (load_model then casts it to the compute dtype like any float tensor).
// gguf_tensor_float() is the float32 values of any loadable type (ggml's dequantization). Both refuse
// data whose size is not what the type and shape need (Model error naming file and tensor).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/quant.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {

// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool gguf_type_loadable(uint32_t type);

// Whether every value is exactly a float16 (infinities too, NaN never): the triplet's scales/biases test.
bool exactly_float16(std::span<const float> values);

// "4-bit g32", "float32", ...: how a tensor of `type` is held once loaded.
std::string gguf_loaded_storage(uint32_t type);

struct GgufTensorArrays {
  mlx::core::array weight;                         // float, or packed uint32 when quantized
  std::optional<mlx::core::array> scales, biases;  // when quantized
  std::optional<QuantSpec> spec;                   // when quantized
};

GgufTensorArrays gguf_tensor_arrays(const GgufFile& header, const GgufTensorInfo& t,
                                    std::span<const uint8_t> bytes);
mlx::core::array gguf_tensor_float(const GgufFile& header, const GgufTensorInfo& t,
                                   std::span<const uint8_t> bytes);

class GgufTensorReader {
 public:
  GgufTensorReader(const GgufFile& header, const std::filesystem::path& file);
  std::vector<uint8_t> bytes(const GgufTensorInfo& t) const;

 private:
  const GgufFile& header_;
  UntrustedFd fd_;
};

}  // namespace mlxft
