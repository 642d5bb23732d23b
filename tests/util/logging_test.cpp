// The log file sink.
#include "mlxft/util/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mlxft/util/error.h"
#include "support/test_support.h"

using ::testing::HasSubstr;

namespace mlxft {
namespace {

TEST(Logging, WritesToTheLogFileAtTheChosenLevel) {
  test::TempDir dir;
  setup_logging("info", dir / "train.log");
  spdlog::info("hello {}", 42);
  spdlog::debug("hidden");
  spdlog::default_logger()->flush();
  const std::string text = test::read_file(dir / "train.log");
  EXPECT_THAT(text, HasSubstr("info: hello 42"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("hidden")));
  setup_logging("warn");  // drop the file sink before the directory goes
}

TEST(Logging, RejectsAnUnknownLevelAndAnUnwritableFile) {
  EXPECT_THROW(setup_logging("loud"), Error);
  test::TempDir dir;
  test::write_file(dir / "not-a-dir", "");
  try {
    setup_logging("info", dir / "not-a-dir" / "train.log");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
}

}  // namespace
}  // namespace mlxft
