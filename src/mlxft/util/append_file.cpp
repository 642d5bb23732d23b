#include "mlxft/util/append_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "mlxft/util/durable_file.h"

namespace fs = std::filesystem;

namespace mlxft {

AppendFile::AppendFile(fs::path path, Mode mode) : path_(std::move(path)) {
  const int err = write_fault(WriteStep::Create, path_);
  if (err != 0) throw_write_error(path_, "cannot create", err == kShortWrite ? ENOSPC : err);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == Mode::Truncate ? O_TRUNC : O_APPEND);
  fd_ = ::open(path_.c_str(), flags, 0644);
  if (fd_ < 0) throw_write_error(path_, "cannot open for writing", errno);
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::append(std::string_view bytes) {
  size_t done = 0;
  do {  // at least one call, so the seam sees every append
    const ssize_t n = seam_write(fd_, path_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_write_error(path_, "cannot append", errno);
    done += static_cast<size_t>(n);
  } while (done < bytes.size());
}

bool ends_without_newline(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char last = '\n';
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size > 0) (void)::pread(fd, &last, 1, size - 1);
  ::close(fd);
  return last != '\n';
}

}  // namespace mlxft
