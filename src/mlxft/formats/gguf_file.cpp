// GGUF header validation (see gguf_file.h for the contract).
#include "mlxft/formats/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "mlxft/util/address_space.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {
namespace {

constexpr uint64_t kMaxStringBytes = 1ULL << 30;  // one metadata string (a chat template is a few KB)
constexpr uint64_t kMaxNameBytes = 65535;         // keys and tensor names
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;       // empty key, type, the smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

Error bad(const std::string& source, const std::string& field, const std::string& what) {
  return Error(ErrorKind::Model, source + ": " + field, what,
               "the file is truncated, corrupt or not GGUF; re-download or re-convert it");
}

// Bounds-checked little-endian reads over the file's bytes.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& source) : bytes_(bytes), source_(source) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }

  uint64_t uint(int width, const std::string& field) {
    need(static_cast<uint64_t>(width), field);
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | bytes_[pos_ + static_cast<uint64_t>(i)];
    pos_ += static_cast<uint64_t>(width);
    return v;
  }
  uint32_t u32(const std::string& field) { return static_cast<uint32_t>(uint(4, field)); }
  uint64_t u64(const std::string& field) { return uint(8, field); }

  std::string string(const std::string& field, uint64_t max_bytes) {
    const uint64_t n = u64(field + " length");
    if (n > max_bytes) {
      throw bad(source_, field,
                "length " + std::to_string(n) + " exceeds the limit of " + std::to_string(max_bytes));
    }
    need(n, field);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  void need(uint64_t n, const std::string& field) {
    if (n > left()) {
      throw bad(source_, field,
                "needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                    " but the file ends at " + std::to_string(bytes_.size()));
    }
  }
  std::span<const uint8_t> bytes_;
  const std::string& source_;
  uint64_t pos_ = 0;
};

// Bytes of one scalar of `type` in the file (strings: their length prefix only); 0 if not a scalar.
uint64_t scalar_bytes(uint32_t type) {
  switch (static_cast<GgufValueType>(type)) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::Bool: return 1;
    case GgufValueType::U16:
    case GgufValueType::I16: return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64:
    case GgufValueType::String: return 8;
    default: return 0;
  }
}

int64_t sign_extend(uint64_t v, int width) {
  const int shift = 64 - 8 * width;
  return static_cast<int64_t>(v << shift) >> shift;
}

GgufScalar read_scalar(Cursor& in, uint32_t type, const std::string& field, const std::string& source) {
  switch (static_cast<GgufValueType>(type)) {
    case GgufValueType::U8: return in.uint(1, field);
    case GgufValueType::U16: return in.uint(2, field);
    case GgufValueType::U32: return in.uint(4, field);
    case GgufValueType::U64: return in.uint(8, field);
    case GgufValueType::I8: return sign_extend(in.uint(1, field), 1);
    case GgufValueType::I16: return sign_extend(in.uint(2, field), 2);
    case GgufValueType::I32: return sign_extend(in.uint(4, field), 4);
    case GgufValueType::I64: return static_cast<int64_t>(in.uint(8, field));
    case GgufValueType::F32: return double{std::bit_cast<float>(in.u32(field))};
    case GgufValueType::F64: return std::bit_cast<double>(in.u64(field));
    case GgufValueType::String: return in.string(field, kMaxStringBytes);
    case GgufValueType::Bool: {
      const uint64_t b = in.uint(1, field);
      if (b > 1) throw bad(source, field, "bool byte is " + std::to_string(b) + ", not 0 or 1");
      return b == 1;
    }
    default: throw bad(source, field, "unknown value type " + std::to_string(type));
  }
}

GgufValue read_value(Cursor& in, const std::string& field, const std::string& source) {
  GgufValue v;
  const uint32_t type = in.u32(field + " type");
  if (type != static_cast<uint32_t>(GgufValueType::Array)) {
    if (scalar_bytes(type) == 0) throw bad(source, field, "unknown value type " + std::to_string(type));
    v.type = static_cast<GgufValueType>(type);
    v.scalar = read_scalar(in, type, field, source);
    return v;
  }
  v.type = GgufValueType::Array;
  const uint32_t element = in.u32(field + " array element type");
  if (element == static_cast<uint32_t>(GgufValueType::Array)) {
    throw bad(source, field, "nested arrays are not supported");
  }
  const uint64_t width = scalar_bytes(element);
  if (width == 0) throw bad(source, field, "unknown array element type " + std::to_string(element));
  v.element_type = static_cast<GgufValueType>(element);
  const uint64_t count = in.u64(field + " array length");
  if (count > in.left() / width) {
    throw bad(source, field,
              "array of " + std::to_string(count) + " " + to_string(v.element_type) + " cannot fit in the " +
                  std::to_string(in.left()) + " bytes left");
  }
  v.array.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    v.array.push_back(read_scalar(in, element, field + "[" + std::to_string(i) + "]", source));
  }
  return v;
}

// Reads the KV section into f.metadata and sets f.alignment.
void read_metadata(Cursor& in, uint64_t n_kv, GgufFile& f) {
  std::set<std::string> seen;
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string where = "KV " + std::to_string(k);
    std::string key = in.string(where + " key", kMaxNameBytes);
    const std::string field = where + " '" + key + "'";
    if (!seen.insert(key).second) throw bad(f.source, field, "duplicate key");
    f.metadata.emplace_back(std::move(key), read_value(in, field, f.source));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    const uint64_t* n = std::get_if<uint64_t>(&a->scalar);
    if (a->type != GgufValueType::U32 || !n || *n == 0 || !std::has_single_bit(*n)) {
      throw bad(f.source, "general.alignment", "must be a u32 power of two");
    }
    f.alignment = *n;
  }
}

GgufTensorInfo read_tensor_info(Cursor& in, uint64_t i, const GgufFile& f) {
  GgufTensorInfo t;
  t.name = in.string("tensor " + std::to_string(i) + " name", kMaxNameBytes);
  const std::string field = "tensor " + std::to_string(i) + " '" + t.name + "'";
  const uint32_t n_dims = in.u32(field + " n_dims");
  if (n_dims < 1 || n_dims > 4)
    throw bad(f.source, field, "n_dims is " + std::to_string(n_dims) + ", not 1..4");
  std::vector<uint64_t> ne(n_dims);
  uint64_t numel = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    ne[d] = in.u64(field + " ne[" + std::to_string(d) + "]");
    if (ne[d] < 1 || ne[d] > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ||
        numel > (1ULL << 58) / ne[d]) {
      throw bad(
          f.source, field,
          "dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne[d]) + " is zero or too large");
    }
    numel *= ne[d];
  }
  for (uint32_t d = n_dims; d-- > 0;) t.shape.push_back(static_cast<int64_t>(ne[d]));
  t.type = in.u32(field + " type");
  const auto block = ggml_block(t.type);
  if (!block) {
    const std::string name = ggml_type_name(t.type);
    throw bad(f.source, field,
              "ggml type " +
                  (name.starts_with("type ") ? std::to_string(t.type)
                                             : name + " (" + std::to_string(t.type) + ")") +
                  " has a layout mlxft does not know");
  }
  if (ne[0] % block->elements != 0) {
    throw bad(f.source, field,
              "row length " + std::to_string(ne[0]) + " is not a multiple of " + ggml_type_name(t.type) +
                  "'s block of " + std::to_string(block->elements));
  }
  t.bytes = numel / block->elements * block->bytes;
  t.offset = in.u64(field + " offset");
  if (t.offset % f.alignment != 0) {
    throw bad(f.source, field,
              "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                  std::to_string(f.alignment));
  }
  return t;
}

// Makes offsets absolute and checks each tensor lies in the file and none overlap.
void place_tensors(GgufFile& f) {
  std::vector<size_t> order(f.tensors.size());
  for (size_t i = 0; i < order.size(); ++i) {
    GgufTensorInfo& t = f.tensors[i];
    const std::string field = "tensor " + std::to_string(i) + " '" + t.name + "'";
    const uint64_t room = f.file_size >= f.data_offset ? f.file_size - f.data_offset : 0;
    if (t.offset > room) {
      throw bad(f.source, field,
                "data offset " + std::to_string(t.offset) + " (from the data section at " +
                    std::to_string(f.data_offset) + ") is past the end of the file (" +
                    std::to_string(f.file_size) + " bytes)");
    }
    if (t.bytes > room - t.offset) {
      const uint64_t begin = f.data_offset + t.offset;
      throw bad(f.source, field,
                "data [" + std::to_string(begin) + ", " + std::to_string(begin + t.bytes) +
                    ") past the end of the file (" + std::to_string(f.file_size) + " bytes)");
    }
    t.offset += f.data_offset;
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return f.tensors[a].offset < f.tensors[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& prev = f.tensors[order[k - 1]];
    const GgufTensorInfo& t = f.tensors[order[k]];
    if (prev.offset + prev.bytes > t.offset) {
      throw bad(f.source, "tensor " + std::to_string(order[k]) + " '" + t.name + "'",
                "data at " + std::to_string(t.offset) + " overlaps tensor '" + prev.name + "' [" +
                    std::to_string(prev.offset) + ", " + std::to_string(prev.offset + prev.bytes) + ")");
    }
  }
}

}  // namespace

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

GgufFile parse_gguf(std::span<const uint8_t> bytes, const std::string& source) {
  GgufFile f;
  f.source = source;
  f.file_size = bytes.size();
  Cursor in(bytes, f.source);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    throw bad(source, "magic", "the file does not start with \"GGUF\"");
  }
  in.u32("magic");
  f.version = in.u32("version");
  if (f.version != 2 && f.version != 3) {
    const bool swapped = f.version == 0x02000000 || f.version == 0x03000000;
    throw bad(
        source, "version",
        swapped ? "a big-endian GGUF file; mlxft reads little-endian ones"
                : "version " + std::to_string(f.version) + " is not supported (mlxft reads GGUF v2 and v3)");
  }
  const uint64_t n_tensors = in.u64("tensor count");
  const uint64_t n_kv = in.u64("KV count");
  if (n_kv > in.left() / kMinKvBytes) {
    throw bad(source, "KV count",
              std::to_string(n_kv) + " KV pairs cannot fit in a file of " + std::to_string(bytes.size()) +
                  " bytes");
  }
  read_metadata(in, n_kv, f);
  if (n_tensors > in.left() / kMinTensorInfoBytes) {
    throw bad(source, "tensor count",
              std::to_string(n_tensors) + " tensor infos cannot fit in the " + std::to_string(in.left()) +
                  " bytes left");
  }
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    f.tensors.push_back(read_tensor_info(in, i, f));
    if (!names.insert(f.tensors.back().name).second) {
      throw bad(source, "tensor " + std::to_string(i) + " '" + f.tensors.back().name + "'", "duplicate name");
    }
  }
  f.data_offset = (in.pos() + f.alignment - 1) / f.alignment * f.alignment;
  place_tensors(f);
  return f;
}

GgufFile read_gguf(const std::filesystem::path& file) {
  const UntrustedFd fd = open_untrusted(file, "GGUF file", ErrorKind::Io);  // a FIFO is never opened
  const auto size = static_cast<size_t>(fd.size());
  if (size == 0) return parse_gguf({}, file.string());
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd(), 0);
  if (map == MAP_FAILED) {
    const int err = errno;
    if (err == ENOMEM) {
      const std::string limit = describe_address_space();
      throw Error(ErrorKind::Memory, file.string(),
                  "cannot map the GGUF file (" + format_mib(static_cast<double>(size)) + "): no address space left" +
                      (limit.empty() ? "" : " under " + limit),
                  address_space_hint());
    }
    throw Error(ErrorKind::Io, file.string(), "cannot map the GGUF file: " + std::string(std::strerror(err)));
  }
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, size};
  return parse_gguf({static_cast<const uint8_t*>(map), size}, file.string());
}

}  // namespace mlxft
