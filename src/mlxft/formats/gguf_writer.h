// Writing GGUF files: metadata of every value type and tensors of any ggml
// type whose block layout mlxft knows, given as raw bytes.
//
// Contract: gguf_bytes() lays out a GGUF file (v3 unless told v2): the header,
// the KVs in the given order with their declared types, the tensor infos (row-
// major shapes written as ggml's reversed ne), padding to the alignment (the
// u32 general.alignment among the KVs, else 32), then each tensor's bytes at
// an aligned offset, zero-padded. It checks what a reader would reject: a
// value whose stored alternative does not fit its declared type, nested
// arrays, a duplicate key or tensor name, a shape of 0 or more than 4
// dimensions, a row length not a multiple of the type's block, or data whose
// size differs from what the type and shape need (a Model error naming the
// key or tensor). parse_gguf() accepts every file it writes. save_gguf()
// writes the same bytes to a file atomically (temp file + rename). save_gguf_streamed() writes the
// same layout without holding the file in memory: the header from the tensor plans, then each
// tensor's bytes as `data(i)` gives them (checked against the plan), into a temporary file renamed
// into place at the end (util/durable_file.h): an error leaves no file behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mlxft/formats/gguf_file.h"

namespace mlxft {

struct GgufTensorOut {
  std::string name;
  std::vector<int64_t> shape;     // row-major: a [out, in] weight is {out, in}
  uint32_t type = 0;              // a GgmlType value
  std::span<const uint8_t> data;  // the caller keeps it alive until the call returns
};

// A tensor whose bytes come later (save_gguf_streamed).
struct GgufTensorPlan {
  std::string name;
  std::vector<int64_t> shape;  // row-major
  uint32_t type = 0;           // a GgmlType value
};
// Bytes a tensor of this type and shape holds; a Model error for a shape or type the writer rejects.
uint64_t planned_bytes(const GgufTensorPlan& tensor);

using GgufTensorSource = std::function<std::vector<uint8_t>(size_t index)>;

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

std::string gguf_bytes(const GgufMetadata& metadata, const std::vector<GgufTensorOut>& tensors,
                       uint32_t version = 3);

void save_gguf(const std::filesystem::path& file, const GgufMetadata& metadata,
               const std::vector<GgufTensorOut>& tensors);

void save_gguf_streamed(const std::filesystem::path& file, const GgufMetadata& metadata,
                        const std::vector<GgufTensorPlan>& tensors, const GgufTensorSource& data);

}  // namespace mlxft
