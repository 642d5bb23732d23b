// Writing files so that a reader never sees half of one.
//
// Contract: write_file_atomic() writes the content to a temporary file in
// the same directory, fsyncs it, renames it over the target and fsyncs the
// directory. After a crash at any moment the target holds either its old
// content or the new one, never a mix. Failures are Io errors naming the path.
#pragma once

#include <filesystem>
#include <string_view>

namespace mlxft {

void write_file_atomic(const std::filesystem::path& path, std::string_view content);
// fsync a directory so that renames inside it survive power loss (best effort).
void sync_directory(const std::filesystem::path& dir);

}  // namespace mlxft
