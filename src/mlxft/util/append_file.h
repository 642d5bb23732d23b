// Files that grow by appending (metrics.jsonl, TensorBoard event files, samples.jsonl, the log
// file), written through the durable-write module's fault seam (util/durable_file.h).
//
// Contract:
// - AppendFile(path, mode) creates the file (Truncate: empty; Append: keeps what is there) as the
//   seam's create step; an Io error naming the file and the errno when it cannot.
// - append(bytes) writes all of them with write(2) (one seam write step per call), so a crash
//   loses at most the bytes of the call in progress; no fsync (these files are logs, not state).
//   A failure (ENOSPC, EIO, a short write) is an Io error naming the file and the errno; the bytes
//   written before it stay (a torn last line, which the readers skip).
// - ends_without_newline(path): a non-empty file whose last byte is not '\n' (a torn last line).
#pragma once

#include <filesystem>
#include <string_view>

namespace mlxft {

class AppendFile {
 public:
  enum class Mode { Truncate, Append };
  AppendFile(std::filesystem::path path, Mode mode);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void append(std::string_view bytes);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

bool ends_without_newline(const std::filesystem::path& path);

}  // namespace mlxft
