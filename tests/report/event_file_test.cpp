// TensorBoard event files (report/event_file.h): CRC32C, the TFRecord framing and the Event encoding,
// checked against the bytes TensorBoard's own writer produced (tests/golden/tensorboard/, written by
// scripts/reference/tensorboard_check.py --golden), and the reader's handling of torn and corrupt files.
#include "mlxft/report/event_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace mlxft {
namespace {

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (char c : bytes) {
    hex.push_back(digits[(static_cast<unsigned char>(c) >> 4) & 0xF]);
    hex.push_back(digits[static_cast<unsigned char>(c) & 0xF]);
  }
  return hex;
}

TEST(EventFile, Crc32cIsTheCastagnoliCrc) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283U);  // the CRC-32C check value (RFC 3720, B.4)
  EXPECT_EQ(crc32c(""), 0U);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAU);  // RFC 3720 B.4: 32 bytes of zeros
  const uint32_t c = crc32c("123456789");
  EXPECT_EQ(masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8U);
}

// Every record of the golden: TensorBoard's EventFileWriter wrote these events; ours must give the
// same bytes, and read them back to the same fields.
TEST(EventFile, EncodesEventsByteForByteAsTensorBoard) {
  const auto golden = nlohmann::json::parse(
      test::read_file(test::source_dir() / "tests" / "golden" / "tensorboard" / "events.json"));
  ASSERT_GE(golden["events"].size(), 3u);
  for (const auto& g : golden["events"]) {
    Event e;
    e.wall_time = g["wall_time"].get<double>();
    e.step = g["step"].get<int64_t>();
    if (g.contains("file_version")) e.file_version = g["file_version"].get<std::string>();
    for (const auto& v : g["scalars"])
      e.scalars.push_back({v["tag"].get<std::string>(), v["value"].get<float>()});
    const std::string record = frame_record(encode_event(e));
    EXPECT_EQ(to_hex(record), g["record_hex"].get<std::string>()) << g.dump();
    const EventFile back = parse_event_records(record);
    ASSERT_TRUE(back.complete);
    ASSERT_EQ(back.events.size(), 1u);
    EXPECT_EQ(back.events[0], e);
  }
}

TEST(EventFile, ReadingStopsAtATornOrCorruptRecord) {
  const Event a{1.5, 1, std::nullopt, {{"train/loss", 2.5F}}};
  const Event b{2.5, 2, std::nullopt, {{"train/loss", 2.0F}, {"eval/loss", 1.0F}}};
  const std::string ra = frame_record(encode_event(a));
  const std::string rb = frame_record(encode_event(b));
  const EventFile whole = parse_event_records(ra + rb);
  EXPECT_TRUE(whole.complete);
  EXPECT_EQ(whole.events, (std::vector<Event>{a, b}));
  EXPECT_EQ(whole.good_bytes, ra.size() + rb.size());

  const EventFile torn = parse_event_records(ra + rb.substr(0, rb.size() - 3));  // a crash mid-write
  EXPECT_FALSE(torn.complete);
  EXPECT_EQ(torn.events, std::vector<Event>{a});
  EXPECT_EQ(torn.good_bytes, ra.size());

  std::string flipped = ra + rb;
  flipped[ra.size() + 14] ^= 0x01;  // a payload byte of the second record: its data CRC fails
  const EventFile corrupt = parse_event_records(flipped);
  EXPECT_FALSE(corrupt.complete);
  EXPECT_EQ(corrupt.events, std::vector<Event>{a});

  std::string bad_length = ra;
  bad_length[0] ^= 0x01;  // the length's CRC fails
  EXPECT_TRUE(parse_event_records(bad_length).events.empty());
}

}  // namespace
}  // namespace mlxft
