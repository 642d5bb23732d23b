// Several output files that appear together or not at all.
//
// Contract: stage(path) returns a temporary path in the same directory (the
// directory is created if missing) whose name keeps path's extension, for the
// caller to write; commit() renames every staged file onto its final path.
// Until commit(), the final paths are untouched; a StagedFiles destroyed
// without commit() (an exception while writing) removes its temporaries.
// Failures are Io errors naming the file.
#pragma once

#include <filesystem>
#include <utility>
#include <vector>

namespace mlxft {

class StagedFiles {
 public:
  StagedFiles() = default;
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;

  std::filesystem::path stage(const std::filesystem::path& final_path);
  void commit();

 private:
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> files_;  // (temp, final)
};

}  // namespace mlxft
