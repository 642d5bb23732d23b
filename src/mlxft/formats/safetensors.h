// Reading and writing safetensors files, with a header check that comes first.
//
// Contract: read_safetensors_header() reads only the u64 length and the JSON
// header of a file and checks everything the format promises before any tensor
// byte is touched: the header fits in the file and is at most 100 MB, it is a
// JSON object, each entry has a known dtype, a non-negative shape and
// data_offsets inside the data region whose length is numel x itemsize, and the
// tensors tile the data region exactly (no overlap, no gap, nothing after the
// last one). Any violation is a Model error naming the file and the tensor; it
// never reads out of bounds, whatever the bytes. load_safetensors() checks the
// header, then hands the file to MLX. save_safetensors() writes durably
// (util/durable_file.h: temp file, fsync, rename, fsync the directory), with
// metadata {"format": "pt"}, so no half-written file is ever left under the
// final name.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>

namespace mlxft {

struct SafetensorsEntry {
  std::string dtype;  // as written in the file: "F32", "BF16", ...
  mlx::core::Shape shape;
  uint64_t begin = 0;  // data_offsets, relative to the end of the header
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
};

// Checks the header of `file` (see the contract). Throws Model errors.
SafetensorsHeader read_safetensors_header(const std::filesystem::path& file);
// The same checks on bytes in memory (`source` names them in errors); the unit of the fuzz tests.
SafetensorsHeader parse_safetensors_header(const std::string& bytes_prefix, uint64_t file_size,
                                           const std::string& source);

// Checks the header, then loads every tensor with MLX.
std::unordered_map<std::string, mlx::core::array> load_safetensors(const std::filesystem::path& file);

// Evaluates and writes `tensors` to `file` durably (see the contract); Io error naming the file.
// `metadata` is {"format": "pt"} unless given (mlx-community directories say "mlx").
void save_safetensors(const std::filesystem::path& file,
                      const std::unordered_map<std::string, mlx::core::array>& tensors,
                      const std::unordered_map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace mlxft
