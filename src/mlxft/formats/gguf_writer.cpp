// GGUF writer (see gguf_writer.h for the contract).
#include "mlxft/formats/gguf_writer.h"

#include <bit>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>

#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

Error bad(const std::string& what_field, const std::string& what) {
  return Error(ErrorKind::Model, "GGUF writer: " + what_field, what);
}

void put(std::string& out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_string(std::string& out, const std::string& s) {
  put(out, s.size(), 8);
  out += s;
}

// The integer in `v` if it fits `type`'s range.
uint64_t integer_bits(const GgufScalar& v, GgufValueType type, const std::string& field) {
  const bool is_signed = type == GgufValueType::I8 || type == GgufValueType::I16 ||
                         type == GgufValueType::I32 || type == GgufValueType::I64;
  const int bits = type == GgufValueType::U8 || type == GgufValueType::I8     ? 8
                   : type == GgufValueType::U16 || type == GgufValueType::I16 ? 16
                   : type == GgufValueType::U32 || type == GgufValueType::I32 ? 32
                                                                              : 64;
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    const uint64_t max = is_signed ? (1ULL << (bits - 1)) - 1 : bits == 64 ? ~0ULL : (1ULL << bits) - 1;
    if (*u <= max) return *u;
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    const int64_t min =
        is_signed ? (bits == 64 ? std::numeric_limits<int64_t>::min() : -(1LL << (bits - 1))) : 0;
    const int64_t max = bits == 64  ? std::numeric_limits<int64_t>::max()
                        : is_signed ? (1LL << (bits - 1)) - 1
                                    : (1LL << bits) - 1;
    if (*i >= min && *i <= max) return static_cast<uint64_t>(*i);
  }
  throw bad(field, std::string("value does not fit type ") + to_string(type));
}

void put_scalar(std::string& out, const GgufScalar& v, GgufValueType type, const std::string& field) {
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::I8: put(out, integer_bits(v, type, field), 1); return;
    case GgufValueType::U16:
    case GgufValueType::I16: put(out, integer_bits(v, type, field), 2); return;
    case GgufValueType::U32:
    case GgufValueType::I32: put(out, integer_bits(v, type, field), 4); return;
    case GgufValueType::U64:
    case GgufValueType::I64: put(out, integer_bits(v, type, field), 8); return;
    case GgufValueType::F32:
    case GgufValueType::F64: {
      const auto* d = std::get_if<double>(&v);
      if (!d) throw bad(field, std::string("a ") + to_string(type) + " value must hold a double");
      if (type == GgufValueType::F32)
        put(out, std::bit_cast<uint32_t>(static_cast<float>(*d)), 4);
      else
        put(out, std::bit_cast<uint64_t>(*d), 8);
      return;
    }
    case GgufValueType::Bool: {
      const auto* b = std::get_if<bool>(&v);
      if (!b) throw bad(field, "a bool value must hold a bool");
      put(out, *b ? 1 : 0, 1);
      return;
    }
    case GgufValueType::String: {
      const auto* s = std::get_if<std::string>(&v);
      if (!s) throw bad(field, "a string value must hold a string");
      put_string(out, *s);
      return;
    }
    default: throw bad(field, "arrays cannot be nested");
  }
}

void put_value(std::string& out, const GgufValue& v, const std::string& field) {
  put(out, static_cast<uint32_t>(v.type), 4);
  if (v.type != GgufValueType::Array) {
    put_scalar(out, v.scalar, v.type, field);
    return;
  }
  if (v.element_type == GgufValueType::Array) throw bad(field, "arrays cannot be nested");
  put(out, static_cast<uint32_t>(v.element_type), 4);
  put(out, v.array.size(), 8);
  for (const auto& item : v.array) put_scalar(out, item, v.element_type, field);
}

uint64_t alignment_of(const GgufMetadata& metadata) {
  for (const auto& [key, v] : metadata) {
    if (key != "general.alignment") continue;
    const auto* n = std::get_if<uint64_t>(&v.scalar);
    if (v.type != GgufValueType::U32 || !n || *n == 0 || !std::has_single_bit(*n)) {
      throw bad(key, "must be a u32 power of two");
    }
    return *n;
  }
  return 32;
}

void pad_to(std::string& out, uint64_t alignment) {
  out.append((alignment - out.size() % alignment) % alignment, '\0');
}

}  // namespace

namespace {

// The header, KVs, tensor infos and the padding up to the data section, after checking every plan.
std::string header_bytes(const GgufMetadata& metadata, const std::vector<GgufTensorPlan>& tensors,
                         uint32_t version, uint64_t alignment) {
  std::string out = "GGUF";
  put(out, version, 4);
  put(out, tensors.size(), 8);
  put(out, metadata.size(), 8);
  std::set<std::string> keys;
  for (const auto& [key, v] : metadata) {
    if (!keys.insert(key).second) throw bad(key, "duplicate key");
    put_string(out, key);
    put_value(out, v, key);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second) throw bad(t.name, "duplicate tensor name");
    const uint64_t bytes = planned_bytes(t);
    put_string(out, t.name);
    put(out, t.shape.size(), 4);
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) put(out, static_cast<uint64_t>(*d), 8);
    put(out, t.type, 4);
    put(out, offset, 8);
    offset += (bytes + alignment - 1) / alignment * alignment;
  }
  pad_to(out, alignment);
  return out;
}

void check_data(const GgufTensorPlan& t, size_t size) {
  const uint64_t bytes = planned_bytes(t);
  if (bytes != size) {
    throw bad(t.name,
              "has " + std::to_string(size) + " bytes, its type and shape need " + std::to_string(bytes));
  }
}

}  // namespace

uint64_t planned_bytes(const GgufTensorPlan& t) {
  const auto block = ggml_block(t.type);
  if (!block) throw bad(t.name, "ggml type " + ggml_type_name(t.type) + " has a layout mlxft does not know");
  if (t.shape.empty() || t.shape.size() > 4) throw bad(t.name, "needs 1 to 4 dimensions");
  uint64_t numel = 1;
  for (int64_t d : t.shape) {
    if (d < 1 || d > std::numeric_limits<int32_t>::max()) throw bad(t.name, "dimensions must be positive");
    numel *= static_cast<uint64_t>(d);
  }
  if (static_cast<uint64_t>(t.shape.back()) % block->elements != 0) {
    throw bad(t.name, "row length is not a multiple of " + ggml_type_name(t.type) + "'s block");
  }
  return numel / block->elements * block->bytes;
}

std::string gguf_bytes(const GgufMetadata& metadata, const std::vector<GgufTensorOut>& tensors,
                       uint32_t version) {
  const uint64_t alignment = alignment_of(metadata);
  std::vector<GgufTensorPlan> plans;
  for (const auto& t : tensors) plans.push_back({t.name, t.shape, t.type});
  for (size_t i = 0; i < plans.size(); ++i) {
    planned_bytes(plans[i]);  // shape and type errors before size errors
    check_data(plans[i], tensors[i].data.size());
  }
  std::string out = header_bytes(metadata, plans, version, alignment);
  for (const auto& t : tensors) {
    out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size());
    pad_to(out, alignment);
  }
  return out;
}

void save_gguf(const std::filesystem::path& file, const GgufMetadata& metadata,
               const std::vector<GgufTensorOut>& tensors) {
  write_file_atomic(file, gguf_bytes(metadata, tensors));
}

void save_gguf_streamed(const std::filesystem::path& file, const GgufMetadata& metadata,
                        const std::vector<GgufTensorPlan>& tensors, const GgufTensorSource& data) {
  const uint64_t alignment = alignment_of(metadata);
  const std::string header = header_bytes(metadata, tensors, 3, alignment);
  write_file_via(file, [&](const std::filesystem::path& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    const std::string zeros(alignment, '\0');
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::vector<uint8_t> bytes = data(i);
      check_data(tensors[i], bytes.size());
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      out.write(zeros.data(),
                static_cast<std::streamsize>((alignment - bytes.size() % alignment) % alignment));
      if (!out) throw std::runtime_error("could not write the GGUF file");  // named, with errno, by write_file_via
    }
    out.close();
    if (!out) throw std::runtime_error("could not write the GGUF file");  // named, with errno, by write_file_via
  });
}

}  // namespace mlxft
