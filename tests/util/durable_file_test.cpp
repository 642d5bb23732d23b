#include "mlxft/util/durable_file.h"

#include <gtest/gtest.h>

#include <fstream>

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

TEST(DurableFile, WriteViaPublishesWhatTheWriterWroteAndCleansUpOnFailure) {
  mlxft::test::TempDir dir;
  const auto target = dir / "w.bin";
  mlxft::write_file_via(target, [](const fs::path& tmp) { std::ofstream(tmp) << "payload"; });
  EXPECT_EQ(mlxft::test::read_file(target), "payload");
  EXPECT_THROW(mlxft::write_file_via(target,
                                     [](const fs::path& tmp) {
                                       std::ofstream(tmp) << "half";
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(mlxft::test::read_file(target), "payload");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(entries, 1);
}

TEST(DurableFile, TruncateLinesKeepsTheFirstLines) {
  mlxft::test::TempDir dir;
  const auto f = dir / "m.jsonl";
  mlxft::write_file_atomic(f, "a\nb\nc\n");
  mlxft::truncate_lines_atomic(f, 2);
  EXPECT_EQ(mlxft::test::read_file(f), "a\nb\n");
  mlxft::truncate_lines_atomic(f, 5);
  EXPECT_EQ(mlxft::test::read_file(f), "a\nb\n");
  mlxft::truncate_lines_atomic(dir / "absent", 1);
  EXPECT_FALSE(fs::exists(dir / "absent"));
}

TEST(DurableFile, StagedDirectoryAppearsWholeAndReplacesTheOldOne) {
  mlxft::test::TempDir dir;
  const auto final_dir = dir / "adapter";
  {
    mlxft::StagedDirectory staged(final_dir);
    std::ofstream(staged.path() / "a.txt") << "1";
    std::ofstream(staged.path() / "b.txt") << "2";
    EXPECT_FALSE(fs::exists(final_dir));
    staged.publish();
  }
  EXPECT_EQ(mlxft::test::read_file(final_dir / "a.txt"), "1");
  {
    mlxft::StagedDirectory staged(final_dir);
    std::ofstream(staged.path() / "c.txt") << "3";
    staged.publish();
  }
  EXPECT_FALSE(fs::exists(final_dir / "a.txt"));
  EXPECT_EQ(mlxft::test::read_file(final_dir / "c.txt"), "3");
  {
    mlxft::StagedDirectory staged(final_dir);  // abandoned: an exception while writing
    std::ofstream(staged.path() / "d.txt") << "4";
  }
  EXPECT_EQ(mlxft::test::read_file(final_dir / "c.txt"), "3");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.is_directory() ? 1 : 0;
  EXPECT_EQ(entries, 1);  // no temporary left behind
}
