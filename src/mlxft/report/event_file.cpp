#include "mlxft/report/event_file.h"

#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>

#include "mlxft/util/error.h"

namespace mlxft {

namespace {

constexpr std::array<uint32_t, 256> crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? (c >> 1) ^ 0x82F63B78U : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = crc32c_table();

// Protobuf wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, int field, int wire_type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

template <class T>
void put_le(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

template <class T>
T get_le(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return static_cast<T>(v);
}

// A protobuf message read field by field; any malformed byte makes ok() false.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty() || !ok_; }
  bool ok() const { return ok_; }

  // The next field's number and wire type.
  bool next(int& field, int& wire_type) {
    uint64_t key = 0;
    if (!varint(key)) return false;
    field = static_cast<int>(key >> 3);
    wire_type = static_cast<int>(key & 7);
    return field > 0;
  }
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return fail();
      const auto byte = static_cast<unsigned char>(rest_.front());
      rest_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return fail();
  }
  bool fixed(size_t n, std::string_view& bytes) {
    if (rest_.size() < n) return fail();
    bytes = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool delimited(std::string_view& bytes) {
    uint64_t n = 0;
    return varint(n) && fixed(n, bytes);
  }
  // Skips a field of `wire_type` this reader does not know.
  bool skip(int wire_type) {
    uint64_t v = 0;
    std::string_view b;
    switch (wire_type) {
      case 0: return varint(v);
      case 1: return fixed(8, b);
      case 2: return delimited(b);
      case 5: return fixed(4, b);
      default: return fail();
    }
  }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::string_view rest_;
  bool ok_ = true;
};

std::optional<ScalarValue> decode_value(std::string_view bytes) {
  WireReader r(bytes);
  ScalarValue v;
  int field = 0;
  int wire = 0;
  while (!r.done()) {
    if (!r.next(field, wire)) return std::nullopt;
    std::string_view b;
    if (field == 1 && wire == 2) {
      if (!r.delimited(b)) return std::nullopt;
      v.tag = std::string(b);
    } else if (field == 2 && wire == 5) {
      if (!r.fixed(4, b)) return std::nullopt;
      v.value = std::bit_cast<float>(get_le<uint32_t>(b));
    } else if (!r.skip(wire)) {
      return std::nullopt;
    }
  }
  if (!r.ok()) return std::nullopt;
  return v;
}

std::optional<Event> decode_event(std::string_view bytes) {
  WireReader r(bytes);
  Event e;
  int field = 0;
  int wire = 0;
  while (!r.done()) {
    if (!r.next(field, wire)) return std::nullopt;
    std::string_view b;
    uint64_t v = 0;
    if (field == 1 && wire == 1) {
      if (!r.fixed(8, b)) return std::nullopt;
      e.wall_time = std::bit_cast<double>(get_le<uint64_t>(b));
    } else if (field == 2 && wire == 0) {
      if (!r.varint(v)) return std::nullopt;
      e.step = static_cast<int64_t>(v);
    } else if (field == 3 && wire == 2) {
      if (!r.delimited(b)) return std::nullopt;
      e.file_version = std::string(b);
    } else if (field == 5 && wire == 2) {
      if (!r.delimited(b)) return std::nullopt;
      WireReader summary(b);
      while (!summary.done()) {
        std::string_view vb;
        if (!summary.next(field, wire)) return std::nullopt;
        if (field == 1 && wire == 2) {
          if (!summary.delimited(vb)) return std::nullopt;
          auto value = decode_value(vb);
          if (!value) return std::nullopt;
          e.scalars.push_back(std::move(*value));
        } else if (!summary.skip(wire)) {
          return std::nullopt;
        }
      }
      if (!summary.ok()) return std::nullopt;
    } else if (!r.skip(wire)) {
      return std::nullopt;
    }
  }
  if (!r.ok()) return std::nullopt;
  return e;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFU;
  for (char ch : bytes) c = kCrc32cTable[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xa282ead8U;
}

std::string encode_event(const Event& event) {
  std::string out;
  put_key(out, 1, 1);
  put_le(out, std::bit_cast<uint64_t>(event.wall_time));
  if (event.step != 0) {  // proto3: a zero scalar is not written
    put_key(out, 2, 0);
    put_varint(out, static_cast<uint64_t>(event.step));
  }
  if (event.file_version) put_bytes(out, 3, *event.file_version);
  if (!event.scalars.empty()) {
    std::string summary;
    for (const ScalarValue& v : event.scalars) {
      std::string value;
      put_bytes(value, 1, v.tag);
      put_key(value, 2, 5);
      put_le(value, std::bit_cast<uint32_t>(v.value));
      put_bytes(summary, 1, value);
    }
    put_bytes(out, 5, summary);
  }
  return out;
}

std::string frame_record(std::string_view payload) {
  std::string out;
  put_le(out, static_cast<uint64_t>(payload.size()));
  put_le(out, masked_crc32c(std::string_view(out).substr(0, 8)));
  out.append(payload);
  put_le(out, masked_crc32c(payload));
  return out;
}

EventFile parse_event_records(std::string_view bytes) {
  EventFile file;
  std::string_view rest = bytes;
  while (!rest.empty()) {
    if (rest.size() < 12) break;
    const auto length = get_le<uint64_t>(rest);
    if (get_le<uint32_t>(rest.substr(8)) != masked_crc32c(rest.substr(0, 8))) break;
    if (rest.size() - 12 < length || rest.size() - 12 - length < 4) break;
    const std::string_view payload = rest.substr(12, length);
    if (get_le<uint32_t>(rest.substr(12 + length)) != masked_crc32c(payload)) break;
    auto event = decode_event(payload);
    if (!event) break;
    file.events.push_back(std::move(*event));
    rest.remove_prefix(16 + length);
    file.good_bytes += 16 + length;
  }
  file.complete = rest.empty();
  return file;
}

EventFile read_event_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Io, path.string(), "cannot read the TensorBoard event file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_event_records(bytes);
}

}  // namespace mlxft
