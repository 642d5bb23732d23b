#include "mlxft/app/output_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

void lock_output_dir(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    throw Error(ErrorKind::Io, out.string(),
                fmt::format("cannot create the output directory: {}", ec.message()));
  const fs::path lock = out / ".lock";
  check_write_fault(WriteStep::Create, lock);  // the durable-write fault seam sees every file of a run
  const int fd = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) throw_write_error(lock, "cannot create the run lock", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw Error(ErrorKind::Training, out.string(), "another mlxft run is using this output directory",
                "wait for it to finish, or pick another output.output_dir");
  }
}

void prepare_output_dir(const Recipe& r, bool resuming) {
  const fs::path out(r.output.output_dir);
  std::error_code ec;
  bool non_empty = false;
  for (const auto& entry : fs::directory_iterator(out, ec)) non_empty |= entry.path().filename() != ".lock";
  if (!non_empty || resuming) return;
  if (!r.output.overwrite_output_dir) {
    throw Error(
        ErrorKind::Config, "output.output_dir",
        fmt::format("{} already exists and is not empty", out.string()),
        "resume it with --resume latest, set output.overwrite_output_dir: true, or pick another directory");
  }
  for (const char* old : {"checkpoints", "final_model", "samples.jsonl"}) fs::remove_all(out / old, ec);
}

}  // namespace mlxft
