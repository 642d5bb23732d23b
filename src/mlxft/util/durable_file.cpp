#include "mlxft/util/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw Error(ErrorKind::Io, path.string(), what + ": " + std::strerror(errno),
              "check that the directory exists, is writable and has free space");
}

fs::path parent_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

fs::path temp_sibling(const fs::path& path) {
  return parent_of(path) / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
}

// fsync, rename `tmp` over `path`, fsync the directory; removes `tmp` on failure.
void publish_file(const fs::path& tmp, const fs::path& path) {
  try {
    sync_file(tmp);
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

}  // namespace

void sync_file(const fs::path& path) {
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
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, "cannot create");
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(tmp, "cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail(tmp, "cannot close");
  }
  publish_file(tmp, path);
}

void write_file_via(const fs::path& path, const std::function<void(const fs::path& temp)>& writer) {
  const fs::path tmp = temp_sibling(path);
  try {
    writer(tmp);
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

StagedDirectory::StagedDirectory(fs::path final_dir)
    : final_(std::move(final_dir)), temp_(temp_sibling(final_)) {
  std::error_code ec;
  fs::create_directories(parent_of(final_), ec);
  fs::remove_all(temp_, ec);
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
