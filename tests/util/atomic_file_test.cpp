#include "mlxft/util/atomic_file.h"

#include <gtest/gtest.h>

#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

TEST(AtomicFile, ReplacesContentAndLeavesNoTemporaryFiles) {
  mlxft::test::TempDir dir;
  const auto target = dir / "out.txt";
  mlxft::write_file_atomic(target, "first");
  mlxft::write_file_atomic(target, "second, longer");
  EXPECT_EQ(mlxft::test::read_file(target), "second, longer");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, MissingDirectoryIsAnIoErrorNamingThePath) {
  mlxft::test::TempDir dir;
  try {
    mlxft::write_file_atomic(dir / "no-such-dir" / "x.txt", "data");
    FAIL() << "expected an error";
  } catch (const mlxft::Error& e) {
    EXPECT_EQ(e.kind(), mlxft::ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("no-such-dir"), std::string::npos);
  }
}
