#include "mlxft/export/staged_files.h"

#include <unistd.h>

#include <string>
#include <system_error>

#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

StagedFiles::~StagedFiles() {
  for (const auto& [temp, final_path] : files_) {
    std::error_code ignored;
    fs::remove(temp, ignored);
  }
}

fs::path StagedFiles::stage(const fs::path& final_path) {
  std::error_code ec;
  const fs::path dir = final_path.has_parent_path() ? final_path.parent_path() : fs::path(".");
  fs::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorKind::Io, dir.string(), "cannot create the directory: " + ec.message(),
                "check the path and its permissions");
  }
  // ".tmp-<pid>-<name>" keeps the extension (MLX appends ".safetensors" to names without it).
  const fs::path temp = dir / (".tmp-" + std::to_string(::getpid()) + "-" + final_path.filename().string());
  files_.emplace_back(temp, final_path);
  return temp;
}

void StagedFiles::commit() {
  for (const auto& [temp, final_path] : files_) {
    std::error_code ec;
    fs::rename(temp, final_path, ec);
    if (ec) {
      throw Error(ErrorKind::Io, final_path.string(),
                  "cannot move the finished file into place: " + ec.message(),
                  "check the directory's permissions and free space");
    }
  }
  files_.clear();
}

}  // namespace mlxft
