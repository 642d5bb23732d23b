// The program-wide options (--debug, --threads) are accepted before and after the subcommand, and an
// unknown option is a usage error (exit 2).
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace {

const std::string kModel = (mlxft::test::source_dir() / "tests/golden/hf_tiny/mistral").string();

}  // namespace

TEST(GlobalOptions, DebugAndThreadsWorkOnEitherSideOfTheSubcommand) {
  const auto before = mlxft::test::run_mlxft("--debug --threads 1 model info " + kModel);
  EXPECT_EQ(before.exit_code, 0) << before.output;
  const auto after = mlxft::test::run_mlxft("model info " + kModel + " --debug --threads 1");
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_NE(after.output.find("mistral"), std::string::npos) << after.output;
}

TEST(GlobalOptions, UnknownOptionIsAUsageError) {
  const auto r = mlxft::test::run_mlxft("model info " + kModel + " --no-such-option");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// --debug does something: an error also prints its kind, where, detail, hint and exit status.
TEST(GlobalOptions, DebugAddsTheErrorDetail) {
  mlxft::test::TempDir dir;
  mlxft::test::write_file(dir / "bad.yaml", "no_such_section:\n  key: 1\n");
  const std::string cmd = "config check " + (dir / "bad.yaml").string();
  const auto plain = mlxft::test::run_mlxft(cmd);
  const auto debug = mlxft::test::run_mlxft(cmd + " --debug");
  EXPECT_EQ(plain.exit_code, 2) << plain.output;
  EXPECT_EQ(debug.exit_code, 2) << debug.output;
  EXPECT_EQ(plain.output.find("debug: kind:"), std::string::npos) << plain.output;
  EXPECT_NE(debug.output.find("debug: kind: configuration error"), std::string::npos) << debug.output;
  EXPECT_NE(debug.output.find("debug: exit status: 2"), std::string::npos) << debug.output;
}
