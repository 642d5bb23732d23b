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
// - write_staged_file(path, content): a file inside a StagedDirectory (no rename of its own:
//   publish() makes the directory durable).
// - publish_written_file(written, path): a file another program wrote (gnuplot's plots): fsync,
//   rename over `path`, fsync the directory.
// Failures are Io errors naming the path the user asked for: a failure on a temporary file or inside
// a staging directory names the final path first and the temporary one after it
// (write_error_place()), so a message never points only at a file that no longer exists.
// - tolerate_write_failure(write, consequence): for what must not stop a run (metrics, TensorBoard,
//   samples, plots, the report, the log file): runs `write`; an Io error (or a filesystem error)
//   from it becomes one warning naming the file, the errno and `consequence`, and false is returned.
//
// Fault injection (the seam the write-fault tests use): every step of every durable write (create,
// write, flush, rename, a library's write through write_file_via / write_staged_via, an append of
// util/append_file.h) first asks write_fault(step, path). With a hook set (set_write_fault_hook), a
// step for which the hook returns an errno fails exactly as that system call failing would (an Io
// error naming the path and the errno, temporaries removed); kShortWrite on a write step stores part
// of the bytes first (a library's file is cut to half) and then fails with ENOSPC, as a disk that
// fills mid-write does. In a CLI run the environment does the same: MLXFT_FAIL_WRITE=N[:MODE] fails
// the N-th step (MODE: ENOSPC, the default, EIO, EDQUOT, EROFS, EFBIG or short),
// MLXFT_TRACE_WRITES=1 prints "mlxft: write step N: <step> <path>" to stderr for each step and
// MLXFT_COUNT_WRITES=1 prints "mlxft: durable write steps: K" at exit, so a test can enumerate a
// run's writes and fail each in turn.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace mlxft {

enum class WriteStep { Create, Write, Flush, Rename };
const char* to_string(WriteStep step);
// Returns 0 to let the step happen, an errno (or kShortWrite) to fail it.
constexpr int kShortWrite = -1;
using WriteFaultHook = std::function<int(WriteStep step, const std::filesystem::path& path)>;
void set_write_fault_hook(WriteFaultHook hook);  // an empty hook clears it
// The fault for this step: 0, an errno or kShortWrite (counts the step, traces it).
int write_fault(WriteStep step, const std::filesystem::path& path);
// write_fault(), and an Io error for any fault (kShortWrite as ENOSPC).
void check_write_fault(WriteStep step, const std::filesystem::path& path);
// `path` with every temporary component (".<name>.tmp-<pid>") replaced by <name>: what it becomes.
std::filesystem::path published_path(const std::filesystem::path& path);
// published_path(path), then "(while writing its temporary copy <path>)" when the two differ.
std::string write_error_place(const std::filesystem::path& path);
// The Io error of a failed step: "cannot <what>: <strerror(err)>" at write_error_place(path).
[[noreturn]] void throw_write_error(const std::filesystem::path& path, const std::string& what, int err);
// write(2) through the seam (a write step; kShortWrite stores n / 2 bytes, then fails with ENOSPC);
// returns what write(2) returns, -1 with errno on a fault.
long seam_write(int fd, const std::filesystem::path& path, const char* data, size_t n);
// Steps checked since the process started (or the hook was last set).
int64_t write_steps_seen();

void write_file_atomic(const std::filesystem::path& path, std::string_view content);
void write_staged_file(const std::filesystem::path& path, std::string_view content);
// A library writes `path` itself, inside a StagedDirectory (the fault seam sees it).
void write_staged_via(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& path)>& writer);
void write_file_via(const std::filesystem::path& path,
                    const std::function<void(const std::filesystem::path& temp)>& writer);
// Keeps the first `lines` lines of a text file (all of them when it has fewer); no file, no-op.
void truncate_lines_atomic(const std::filesystem::path& path, int64_t lines);
// fsync `written`, rename it over `path`, fsync the directory; `written` is removed on failure.
void publish_written_file(const std::filesystem::path& written, const std::filesystem::path& path);

bool tolerate_write_failure(const std::function<void()>& write, const std::string& consequence);

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
