// GGUF value types and ggml tensor types: names and block layouts (see gguf_file.h).
//
// Block sizes (elements, bytes) follow ggml's block structs in ggml-common.h:
// Q4_0 {f16 d; u8 qs[16]}, Q4_1 {f16 d, m; u8 qs[16]}, Q5_0 {f16 d; u8 qh[4]; u8 qs[16]},
// Q5_1 {f16 d, m; u8 qh[4]; u8 qs[16]}, Q8_0 {f16 d; i8 qs[32]}, Q8_1 {f32 d, s; i8 qs[32]},
// and the 256-element K-quants Q2_K 84, Q3_K 110, Q4_K 144, Q5_K 176, Q6_K 210, Q8_K 292 bytes.
#include <array>
#include <string>

#include "mlxft/formats/gguf_file.h"

namespace mlxft {
namespace {

struct TypeRow {
  uint32_t id;
  const char* name;
  uint64_t elements;  // 0: layout not known to mlxft
  uint64_t bytes;
};

constexpr std::array<TypeRow, 34> kTypes = {{
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 40},
    {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {16, "IQ2_XXS", 0, 0},  {17, "IQ2_XS", 0, 0},
    {18, "IQ3_XXS", 0, 0},  {19, "IQ1_S", 0, 0},    {20, "IQ4_NL", 0, 0},   {21, "IQ3_S", 0, 0},
    {22, "IQ2_S", 0, 0},    {23, "IQ4_XS", 0, 0},   {24, "I8", 1, 1},       {25, "I16", 1, 2},
    {26, "I32", 1, 4},      {27, "I64", 1, 8},      {28, "F64", 1, 8},      {29, "IQ1_M", 0, 0},
    {30, "BF16", 1, 2},     {34, "TQ1_0", 0, 0},    {35, "TQ2_0", 0, 0},    {39, "MXFP4", 0, 0},
    {40, "NVFP4", 0, 0},    {41, "Q1_0", 0, 0},
}};

const TypeRow* find_type(uint32_t id) {
  for (const auto& row : kTypes) {
    if (row.id == id) return &row;
  }
  return nullptr;
}

}  // namespace

const char* to_string(GgufValueType type) {
  static constexpr std::array<const char*, 13> names = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                        "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(type);
  return i < names.size() ? names[i] : "unknown";
}

std::string ggml_type_name(uint32_t type) {
  const TypeRow* row = find_type(type);
  return row ? row->name : "type " + std::to_string(type);
}

std::optional<GgmlBlock> ggml_block(uint32_t type) {
  const TypeRow* row = find_type(type);
  if (!row || row->elements == 0) return std::nullopt;
  return GgmlBlock{row->elements, row->bytes};
}

}  // namespace mlxft
