// FNV-1a 64-bit hashing: the one implementation every module uses (config hashes in checkpoints,
// per-module LoRA init seeds, duplicate detection).
//
// Contract: fnv1a64(bytes) is the standard FNV-1a with the offset basis 14695981039346656037 and
// the prime 1099511628211. A caller that must reproduce values computed with another basis passes
// it explicitly (and names why).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mlxft {

inline constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ull;
inline constexpr uint64_t kFnvPrime = 1099511628211ull;

constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t basis = kFnvOffsetBasis) {
  uint64_t h = basis;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * kFnvPrime;
  return h;
}

// 16 lowercase hex digits of fnv1a64(bytes).
std::string fnv1a64_hex(std::string_view bytes);

}  // namespace mlxft
