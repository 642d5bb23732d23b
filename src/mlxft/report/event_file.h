// TensorBoard event files: TFRecord framing and the four Event fields a scalar needs, written and
// read back.
//
// Why our own encoder: a scalar event is Event{wall_time = 1 (double), step = 2 (int64),
// file_version = 3 (string) | summary = 5 {value = 1 {tag = 1 (string), simple_value = 2
// (float)}}}, four fields of tensorflow/core/util/event.proto and summary.proto. Linking Debian's
// libprotobuf and compiling TensorBoard's .proto files (with their imports: tensor, resource
// handle, types...) for that is a build dependency and a code generator for about 60 lines of
// wire format; the framing (TFRecord) is not protobuf at all. The bytes are checked against
// TensorBoard's own reader (scripts/reference/tensorboard_check.py) and a committed golden
// (tests/golden/tensorboard/).
//
// Contract:
// - A record is: uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes, the payload,
//   uint32 masked CRC32C of the payload. CRC32C is the Castagnoli CRC (reflected polynomial
//   0x82F63B78); masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8, as TFRecord specifies.
// - encode_event() writes the fields in field order, a field only when the event has it (no
//   summary for a file_version event, no file_version for a scalar one).
// - read_event_file() parses records until the end or the first record that is torn (short) or
//   whose CRCs or protobuf do not check; `complete` says whether it reached the end cleanly and
//   `good_bytes` how many bytes the good records take. Unknown protobuf fields are skipped.
//   An unreadable file is an Io error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlxft {

uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

struct ScalarValue {
  std::string tag;
  float value = 0.0F;
  bool operator==(const ScalarValue&) const = default;
};

struct Event {
  double wall_time = 0.0;
  int64_t step = 0;
  std::optional<std::string> file_version;  // "brain.Event:2" in a file's first event
  std::vector<ScalarValue> scalars;         // the summary's values (none: no summary field)
  bool operator==(const Event&) const = default;
};

std::string encode_event(const Event& event);
// The TFRecord around `payload`.
std::string frame_record(std::string_view payload);

struct EventFile {
  std::vector<Event> events;
  bool complete = true;
  uint64_t good_bytes = 0;
};

EventFile read_event_file(const std::filesystem::path& path);
// Same, from the file's bytes.
EventFile parse_event_records(std::string_view bytes);

}  // namespace mlxft
