// Durable writes: every file and directory mlxft publishes goes through this module.
//
// Contract:
// - write_file_atomic(path, content): a temporary file in the same directory, fsync, rename over
//   `path`, fsync the directory. After a crash at any moment `path` holds its old content or the
//   new one, never a mix.
// - write_file_via(path, writer): the same for files a library writes itself (safetensors, GGUF):
//   writer(temp) writes the temporary file, then fsync, rename, fsync the directory.
// - StagedDirectory: a directory published as a unit. Files are written under path() (a temporary
//   sibling `.<name>.tmp-<pid>`); publish() fsyncs every file in it and the directory, replaces the
//   final directory (an old one is moved aside first and removed after the rename) and fsyncs the
//   parent. Until publish() the final directory is untouched; destroyed without publish() (an
//   exception while writing) it removes the temporary directory.
// - truncate_lines_atomic(path, n): keeps the first n lines of a text file, atomically.
// Failures are Io errors naming the path.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

namespace mlxft {

void write_file_atomic(const std::filesystem::path& path, std::string_view content);
void write_file_via(const std::filesystem::path& path,
                    const std::function<void(const std::filesystem::path& temp)>& writer);
// Keeps the first `lines` lines of a text file (all of them when it has fewer); no file, no-op.
void truncate_lines_atomic(const std::filesystem::path& path, int64_t lines);

// fsync a file; Io error naming it on failure.
void sync_file(const std::filesystem::path& path);
// fsync a directory so that renames inside it survive power loss (best effort).
void sync_directory(const std::filesystem::path& dir);

class StagedDirectory {
 public:
  explicit StagedDirectory(std::filesystem::path final_dir);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  const std::filesystem::path& path() const { return temp_; }  // write the files here
  const std::filesystem::path& final_path() const { return final_; }
  void publish();

 private:
  std::filesystem::path final_, temp_;
  bool published_ = false;
};

}  // namespace mlxft
