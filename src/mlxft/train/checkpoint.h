// The checkpoint store: crash-safe save, verification, discovery and rotation of training
// checkpoints under <output_dir>/checkpoints/.
//
// Contract: a checkpoint is a directory step-NNNNNN/ holding adapters.safetensors,
// optimizer.safetensors, state.json, effective_config.yaml and a MANIFEST listing every other file
// with its byte size and CRC-32 ("<size> <crc32 hex> <name>" per line). save() writes everything
// into a staging directory (util/durable_file.h StagedDirectory, .step-NNNNNN.tmp-<pid>/), reads
// the safetensors back and compares them with what was meant to be written, writes the MANIFEST
// last, then publishes it (fsync of every file and the directory, rename into place, fsync of the
// parent); so a crash (kill -9) at any moment leaves either the complete new checkpoint or none,
// plus a .tmp-* directory that discovery ignores and clean_temporaries() removes. verify()
// checks a checkpoint against its MANIFEST; load_latest_valid() takes the highest step that
// verifies and loads, reporting (spdlog warning) each newer one it skips as corrupt. rotate() keeps
// the newest `keep` checkpoints plus `best_step` (keep = 0 keeps all). Failures to write are Io
// errors; an explicitly named checkpoint that does not verify is a Checkpoint error.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mlxft {

namespace mx = mlx::core;

struct CheckpointContent {
  std::map<std::string, mx::array> adapters;
  std::map<std::string, mx::array> optimizer;
  nlohmann::json state;     // the trainer's state.json
  std::string config_yaml;  // the effective config of the run
};

struct StoredCheckpoint {
  int64_t step = 0;
  std::filesystem::path dir;
};

class CheckpointStore {
 public:
  explicit CheckpointStore(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  static std::string dir_name(int64_t step);  // "step-000100"

  // Writes, verifies and publishes the checkpoint of `step`; returns its directory.
  std::filesystem::path save(int64_t step, const CheckpointContent& content) const;

  // Every published checkpoint directory, ascending by step (not verified).
  std::vector<StoredCheckpoint> list() const;

  // Empty when `dir` matches its MANIFEST, else the reason it does not.
  static std::string verify(const std::filesystem::path& dir);
  // Verifies, then loads; Checkpoint error naming the file when anything is wrong.
  static CheckpointContent load(const std::filesystem::path& dir);

  // The checkpoint a --resume value names: none for "", the newest valid one (or none) for
  // "latest", else that directory (Checkpoint error when it does not verify or load).
  std::optional<std::pair<StoredCheckpoint, CheckpointContent>> resolve(const std::string& resume) const;

  // The newest checkpoint that verifies and loads, or none.
  std::optional<std::pair<StoredCheckpoint, CheckpointContent>> load_latest_valid() const;

  void rotate(int keep, std::optional<int64_t> best_step) const;
  // Removes leftover step-*.tmp-* directories of interrupted saves.
  void clean_temporaries() const;

 private:
  std::filesystem::path root_;
};

// CRC-32 (IEEE 802.3, as zlib's crc32) of a file's bytes; Io error if unreadable.
uint32_t file_crc32(const std::filesystem::path& file);

}  // namespace mlxft
