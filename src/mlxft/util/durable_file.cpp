#include "mlxft/util/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include <spdlog/spdlog.h>

#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

std::mutex g_fault_mutex;
WriteFaultHook g_fault_hook;
std::atomic<int64_t> g_steps{0};

// The errno a MLXFT_FAIL_WRITE mode names (kShortWrite for "short"); ENOSPC when none or unknown.
int mode_errno(const std::string& mode) {
  static const std::pair<const char*, int> modes[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO},     {"EDQUOT", EDQUOT},
                                                      {"EROFS", EROFS},   {"EFBIG", EFBIG}, {"short", kShortWrite}};
  for (const auto& [name, err] : modes)
    if (mode == name) return err;
  return ENOSPC;
}

// MLXFT_FAIL_WRITE / MLXFT_TRACE_WRITES / MLXFT_COUNT_WRITES: the CLI's form of the hook (see the header).
struct EnvFaults {
  int64_t fail_at = 0;
  int fail_with = ENOSPC;
  bool trace = false, count = false;
  EnvFaults() {
    if (const char* v = std::getenv("MLXFT_FAIL_WRITE")) {
      fail_at = std::atoll(v);
      if (const char* colon = std::strchr(v, ':')) fail_with = mode_errno(colon + 1);
    }
    if (const char* v = std::getenv("MLXFT_TRACE_WRITES")) trace = v[0] == '1';
    if (const char* v = std::getenv("MLXFT_COUNT_WRITES")) count = v[0] == '1';
  }
  ~EnvFaults() {
    if (count) std::fprintf(stderr, "mlxft: durable write steps: %lld\n", static_cast<long long>(g_steps.load()));
  }
};

const EnvFaults& env_faults() {
  static const EnvFaults faults;
  return faults;
}

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw_write_error(path, what, errno);
}

fs::path parent_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

fs::path temp_sibling(const fs::path& path) {
  return parent_of(path) / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
}

// "." + name + ".tmp-" + digits (a temp_sibling's file name) -> name; any other name -> "".
std::string published_component(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (name.size() < 2 || name[0] != '.' || at == std::string::npos || at <= 1 || at + 5 >= name.size()) return "";
  for (size_t i = at + 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return "";
  }
  return name.substr(1, at - 1);
}

// fsync, rename `tmp` over `path`, fsync the directory; removes `tmp` on failure.
void publish_file(const fs::path& tmp, const fs::path& path) {
  try {
    sync_file(tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  try {
    check_write_fault(WriteStep::Rename, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail(path, "cannot rename into place");
  }
  sync_directory(parent_of(path));
}

// Runs a library's writer on `path`; its failure (MLX's runtime_error, a filesystem error) becomes an
// Io error naming the path, with the errno its failed system call left (ENOSPC, EFBIG, ...).
void run_writer(const fs::path& path, const std::function<void(const fs::path&)>& writer) {
  errno = 0;
  try {
    writer(path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const int err = errno;
    throw Error(ErrorKind::Io, write_error_place(path),
                std::string("cannot write: ") + e.what() + (err != 0 ? std::string(": ") + std::strerror(err) : ""),
                "check that the directory exists, is writable and has free space");
  }
}

// After a library's writer: a short write cuts its file to half, then every fault is an Io error.
void check_library_write(const fs::path& path) {
  const int err = write_fault(WriteStep::Write, path);
  if (err == 0) return;
  std::error_code ec;
  if (err == kShortWrite) fs::resize_file(path, fs::file_size(path, ec) / 2, ec);
  throw_write_error(path, "cannot write", err == kShortWrite ? ENOSPC : err);
}

void write_all(const fs::path& path, std::string_view content, bool remove_on_failure) {
  check_write_fault(WriteStep::Create, path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create");
  size_t done = 0;
  try {
    do {  // at least one write, so the seam sees empty files too
      const ssize_t n = seam_write(fd, path, content.data() + done, content.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(path, "cannot write");
      }
      done += static_cast<size_t>(n);
    } while (done < content.size());
  } catch (...) {
    ::close(fd);
    if (remove_on_failure) ::unlink(path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    if (remove_on_failure) ::unlink(path.c_str());
    fail(path, "cannot close");
  }
}

}  // namespace

const char* to_string(WriteStep step) {
  switch (step) {
    case WriteStep::Create: return "create";
    case WriteStep::Write: return "write";
    case WriteStep::Flush: return "flush";
    case WriteStep::Rename: return "rename";
  }
  return "step";
}

void set_write_fault_hook(WriteFaultHook hook) {
  const std::lock_guard<std::mutex> lock(g_fault_mutex);
  g_fault_hook = std::move(hook);
  g_steps = 0;
}

int64_t write_steps_seen() { return g_steps.load(); }

int write_fault(WriteStep step, const fs::path& path) {
  const int64_t n = ++g_steps;
  const EnvFaults& env = env_faults();
  if (env.trace) std::fprintf(stderr, "mlxft: write step %lld: %s %s\n", static_cast<long long>(n), to_string(step), path.c_str());
  int err = 0;
  {
    const std::lock_guard<std::mutex> lock(g_fault_mutex);
    if (g_fault_hook) err = g_fault_hook(step, path);
  }
  if (err == 0 && env.fail_at == n) err = env.fail_with;
  return err;
}

void check_write_fault(WriteStep step, const fs::path& path) {
  const int err = write_fault(step, path);
  if (err != 0) throw_write_error(path, std::string("cannot ") + to_string(step), err == kShortWrite ? ENOSPC : err);
}

fs::path published_path(const fs::path& path) {
  fs::path out;
  for (const fs::path& part : path) {
    const std::string final_name = published_component(part.string());
    out /= final_name.empty() ? part : fs::path(final_name);
  }
  return out;
}

std::string write_error_place(const fs::path& path) {
  const fs::path final_path = published_path(path);
  if (final_path == path) return path.string();
  return final_path.string() + " (while writing its temporary copy " + path.string() + ")";
}

void throw_write_error(const fs::path& path, const std::string& what, int err) {
  throw Error(ErrorKind::Io, write_error_place(path), what + ": " + std::strerror(err),
              "check that the directory exists, is writable and has free space");
}

void sync_file(const fs::path& path) {
  check_write_fault(WriteStep::Flush, path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open to flush");
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) fail(path, "cannot flush");
}

void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  const fs::path tmp = temp_sibling(path);
  write_all(tmp, content, /*remove_on_failure=*/true);
  publish_file(tmp, path);
}

void write_staged_file(const fs::path& path, std::string_view content) {
  write_all(path, content, /*remove_on_failure=*/false);  // the staging directory goes as a whole
}

void write_staged_via(const fs::path& path, const std::function<void(const fs::path& path)>& writer) {
  check_write_fault(WriteStep::Create, path);
  run_writer(path, writer);
  check_library_write(path);  // a library's write that failed late (short write, EIO)
}

void write_file_via(const fs::path& path, const std::function<void(const fs::path& temp)>& writer) {
  const fs::path tmp = temp_sibling(path);
  try {
    check_write_fault(WriteStep::Create, tmp);
    run_writer(tmp, writer);
    check_library_write(tmp);  // a library's write that failed late (short write, EIO)
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  publish_file(tmp, path);
}

void truncate_lines_atomic(const fs::path& path, int64_t lines) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot read");
  std::string kept, line;
  for (int64_t n = 0; n < lines && std::getline(in, line); ++n) kept += line + "\n";
  write_file_atomic(path, kept);
}

long seam_write(int fd, const fs::path& path, const char* data, size_t n) {
  const int err = write_fault(WriteStep::Write, path);
  if (err == kShortWrite) {
    if (::write(fd, data, n / 2) < 0) return -1;
    errno = ENOSPC;
    return -1;
  }
  if (err != 0) {
    errno = err;
    return -1;
  }
  return ::write(fd, data, n);
}

void publish_written_file(const fs::path& written, const fs::path& path) {
  publish_file(written, path);
}

bool tolerate_write_failure(const std::function<void()>& write, const std::string& consequence) {
  try {
    write();
    return true;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Io) throw;
    spdlog::warn("{}: {}; {} (the run goes on)", e.where(), e.detail(), consequence);
  } catch (const fs::filesystem_error& e) {
    spdlog::warn("{}; {} (the run goes on)", e.what(), consequence);
  }
  return false;
}

StagedDirectory::StagedDirectory(fs::path final_dir)
    : final_(std::move(final_dir)), temp_(temp_sibling(final_)) {
  std::error_code ec;
  fs::create_directories(parent_of(final_), ec);
  fs::remove_all(temp_, ec);
  check_write_fault(WriteStep::Create, temp_);
  if (!fs::create_directory(temp_, ec) || ec) fail(temp_, "cannot create the staging directory");
}

StagedDirectory::~StagedDirectory() {
  if (published_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

void StagedDirectory::publish() {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(temp_, ec)) {
    if (entry.is_regular_file()) sync_file(entry.path());
  }
  sync_directory(temp_);
  const fs::path aside = parent_of(final_) / ("." + final_.filename().string() + ".old-" +
                                              std::to_string(::getpid()));
  const bool had_old = fs::exists(final_, ec);
  check_write_fault(WriteStep::Rename, final_);
  if (had_old && ::rename(final_.c_str(), aside.c_str()) != 0) fail(final_, "cannot move the old directory aside");
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    if (had_old) ::rename(aside.c_str(), final_.c_str());
    fail(final_, "cannot publish the directory");
  }
  published_ = true;
  sync_directory(parent_of(final_));
  if (had_old) fs::remove_all(aside, ec);
}

}  // namespace mlxft
