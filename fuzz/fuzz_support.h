// Shared by the fuzz targets: a per-process scratch directory for targets whose code under test reads
// files (a model directory, a tokenizer.json beside its tokenizer_config.json), and writing bytes there.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace mlxft::fuzz {

inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("mlxft-fuzz-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(dir); }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

inline std::filesystem::path write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Splits the input at the first occurrence of `marker` (the marker dropped); all of it goes to the
// first part when the marker is absent.
inline std::pair<std::string, std::string> split_input(const uint8_t* data, size_t size,
                                                       const std::string& marker = "\n--8<--\n") {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t at = all.find(marker);
  if (at == std::string::npos) return {all, std::string()};
  return {all.substr(0, at), all.substr(at + marker.size())};
}

}  // namespace mlxft::fuzz
