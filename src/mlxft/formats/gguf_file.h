// GGUF files (llama.cpp, Ollama): a validating reader of the header.
//
// Contract: parse_gguf() reads a GGUF v2 or v3 file held in memory and checks
// everything before any tensor byte is used: the magic and version; that the
// tensor and KV counts can fit in the file; every KV (key, type, value; string
// lengths; arrays of any scalar type or of strings, nested arrays rejected;
// duplicate keys rejected); general.alignment (a u32 power of two); every
// tensor info (name, 1..4 dimensions, each positive, the row length a multiple
// of the type's block size, a known ggml type whose block size mlxft knows,
// offset aligned); and that each tensor's data lies inside the file after the
// aligned start of the data section, without overlapping another. It never
// reads outside the span and never allocates on a count it has not bounded by
// the bytes left. Every violation is a Model error whose location names the
// source and the field ("model.gguf: tensor 12 'blk.0.attn_q.weight'") and
// whose message says what is wrong. read_gguf() maps a file and parses it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace mlxft {

// Types of GGUF metadata values, numbered as in the file.
enum class GgufValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char* to_string(GgufValueType type);

// ggml tensor types, numbered as in the file (ggml.h's enum ggml_type).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

// Name of a ggml type ("Q4_0"), or "type <n>" for a number ggml does not define.
std::string ggml_type_name(uint32_t type);
// Elements per block and bytes per block; nullopt for a type whose layout mlxft does not know.
struct GgmlBlock {
  uint64_t elements;
  uint64_t bytes;
};
std::optional<GgmlBlock> ggml_block(uint32_t type);

// One scalar metadata value: unsigned and signed integers widened, floats as double.
using GgufScalar = std::variant<uint64_t, int64_t, double, bool, std::string>;

struct GgufValue {
  GgufValueType type = GgufValueType::U32;
  GgufValueType element_type = GgufValueType::U32;  // when type == Array
  GgufScalar scalar;                                // when type != Array
  std::vector<GgufScalar> array;                    // when type == Array

  // Typed constructors (the writer uses them; the reader fills the same fields).
  static GgufValue u32(uint32_t v) { return {GgufValueType::U32, GgufValueType::U32, uint64_t{v}, {}}; }
  static GgufValue f32(float v) { return {GgufValueType::F32, GgufValueType::U32, double{v}, {}}; }
  static GgufValue boolean(bool v) { return {GgufValueType::Bool, GgufValueType::U32, v, {}}; }
  static GgufValue string(std::string v) {
    return {GgufValueType::String, GgufValueType::U32, std::move(v), {}};
  }
  static GgufValue of(GgufValueType type, GgufScalar v) {
    return {type, GgufValueType::U32, std::move(v), {}};
  }
  static GgufValue array_of(GgufValueType element_type, std::vector<GgufScalar> items) {
    return {GgufValueType::Array, element_type, uint64_t{0}, std::move(items)};
  }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // row-major (ggml's ne reversed): a [out, in] weight is {out, in}
  uint32_t type = 0;           // a GgmlType value
  uint64_t offset = 0;         // absolute offset of the data in the file
  uint64_t bytes = 0;          // size of the data
};

struct GgufFile {
  std::string source;  // the file name, for messages
  uint32_t version = 3;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // aligned start of the data section
  uint64_t file_size = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensorInfo> tensors;                      // in file order

  const GgufValue* find(const std::string& key) const;
  const GgufTensorInfo* tensor(const std::string& name) const;
};

// Checks and parses `bytes` (the whole file). `source` names it in errors.
GgufFile parse_gguf(std::span<const uint8_t> bytes, const std::string& source);
// Maps `file` read-only and parses it; Io error if it cannot be opened.
GgufFile read_gguf(const std::filesystem::path& file);

}  // namespace mlxft
