#include "mlxft/train/checkpoint.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <fstream>
#include <regex>
#include <sstream>
#include <unordered_map>

#include "mlxft/util/durable_file.h"
#include "mlxft/util/address_space.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

constexpr const char* kAdapters = "adapters.safetensors";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kState = "state.json";
constexpr const char* kConfig = "effective_config.yaml";
constexpr const char* kManifest = "MANIFEST";

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void write_text(const fs::path& path, const std::string& text) {
  write_staged_file(path, text);  // the durable-write module: its fault seam sees every write
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Checkpoint, path.string(), "cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unordered_map<std::string, mx::array> to_unordered(const std::map<std::string, mx::array>& m) {
  return {m.begin(), m.end()};
}

// True when the file holds exactly the arrays of `expected` (names, dtypes, shapes, bytes).
bool reads_back_equal(const fs::path& file, const std::map<std::string, mx::array>& expected) {
  auto [arrays, meta] = mx::load_safetensors(file.string());
  if (arrays.size() != expected.size()) return false;
  for (const auto& [name, a] : expected) {
    auto it = arrays.find(name);
    if (it == arrays.end() || it->second.dtype() != a.dtype() || it->second.shape() != a.shape())
      return false;
    if (!mx::array_equal(it->second, a).item<bool>()) return false;
  }
  return true;
}

std::map<std::string, mx::array> load_arrays(const fs::path& file) {
  try {
    auto [arrays, meta] = mx::load_safetensors(file.string());
    std::map<std::string, mx::array> out(arrays.begin(), arrays.end());
    for (auto& [name, a] : out) mx::eval(a);
    return out;
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    throw Error(ErrorKind::Checkpoint, file.string(), fmt::format("unreadable safetensors: {}", e.what()));
  }
}

}  // namespace

uint32_t file_crc32(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ErrorKind::Io, file.string(), "cannot read");
  const auto& table = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      c = table[(c ^ static_cast<uint8_t>(buf[static_cast<size_t>(i)])) & 0xFFu] ^ (c >> 8);
    }
  }
  return c ^ 0xFFFFFFFFu;
}

CheckpointStore::CheckpointStore(fs::path root) : root_(std::move(root)) {}

std::string CheckpointStore::dir_name(int64_t step) {
  return fmt::format("step-{:06d}", step);
}

fs::path CheckpointStore::save(int64_t step, const CheckpointContent& content) const {
  StagedDirectory staged(root_ / dir_name(step));  // a re-save of the same step replaces it
  const fs::path& tmp = staged.path();
  try {
    for (const auto& part : {std::pair{kAdapters, &content.adapters}, {kOptimizer, &content.optimizer}}) {
      const auto* arrays = part.second;  // a plain name: clang 14 cannot capture a structured binding
      write_staged_via(tmp / part.first, [&](const fs::path& file) {
        mx::save_safetensors(file.string(), to_unordered(*arrays), {{"format", "pt"}});
      });
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    throw Error(ErrorKind::Io, tmp.string(), fmt::format("cannot write the checkpoint: {}", e.what()),
                "check the disk and its free space");
  }
  write_text(tmp / kState, content.state.dump(2) + "\n");
  write_text(tmp / kConfig, content.config_yaml);

  // Read back: the arrays on disk must be the arrays we meant to write.
  if (!reads_back_equal(tmp / kAdapters, content.adapters) ||
      !reads_back_equal(tmp / kOptimizer, content.optimizer) ||
      nlohmann::json::parse(read_text(tmp / kState)) != content.state) {
    throw Error(ErrorKind::Checkpoint, tmp.string(), "checkpoint read back differs from what was written",
                "the disk may be failing or full; the previous checkpoint is intact");
  }
  std::string manifest;
  for (const char* name : {kAdapters, kOptimizer, kState, kConfig}) {
    sync_file(tmp / name);
    manifest += fmt::format("{} {:08x} {}\n", fs::file_size(tmp / name), file_crc32(tmp / name), name);
  }
  write_text(tmp / kManifest, manifest);  // last: a directory without it never verifies
  staged.publish();                       // fsyncs, renames into place, fsyncs the parent
  return staged.final_path();
}

std::optional<std::pair<StoredCheckpoint, CheckpointContent>> CheckpointStore::resolve(
    const std::string& resume) const {
  if (resume.empty()) return std::nullopt;
  if (resume == "latest") return load_latest_valid();
  const fs::path dir(resume);
  return std::make_pair(StoredCheckpoint{0, dir}, load(dir));
}

std::vector<StoredCheckpoint> CheckpointStore::list() const {
  std::vector<StoredCheckpoint> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  static const std::regex pattern("step-([0-9]+)");
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && std::regex_match(name, m, pattern)) {
      out.push_back({std::stoll(m[1].str()), entry.path()});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return out;
}

std::string CheckpointStore::verify(const fs::path& dir) {
  std::ifstream in(dir / kManifest);
  if (!in) return "no MANIFEST (an interrupted or foreign directory)";
  std::map<std::string, std::pair<uintmax_t, uint32_t>> listed;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uintmax_t size = 0;
    std::string crc_hex, name;
    if (!(fields >> size >> crc_hex >> name)) return fmt::format("MANIFEST line '{}' is malformed", line);
    try {
      listed[name] = {size, static_cast<uint32_t>(std::stoul(crc_hex, nullptr, 16))};
    } catch (const std::exception&) {
      return fmt::format("MANIFEST line '{}' is malformed", line);
    }
  }
  for (const char* name : {kAdapters, kOptimizer, kState, kConfig}) {
    auto it = listed.find(name);
    if (it == listed.end()) return fmt::format("MANIFEST does not list {}", name);
    std::error_code ec;
    const uintmax_t size = fs::file_size(dir / name, ec);
    if (ec) return fmt::format("{} is missing", name);
    if (size != it->second.first)
      return fmt::format("{} has {} bytes, MANIFEST says {}", name, size, it->second.first);
    if (file_crc32(dir / name) != it->second.second) return fmt::format("{} fails its CRC-32 check", name);
  }
  return {};
}

CheckpointContent CheckpointStore::load(const fs::path& dir) {
  if (const std::string why = verify(dir); !why.empty()) {
    throw Error(ErrorKind::Checkpoint, dir.string(), "corrupt checkpoint: " + why,
                "resume from an earlier checkpoint (--resume DIR) or 'latest'");
  }
  CheckpointContent c;
  c.adapters = load_arrays(dir / kAdapters);
  c.optimizer = load_arrays(dir / kOptimizer);
  try {
    c.state = nlohmann::json::parse(read_text(dir / kState));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Checkpoint, (dir / kState).string(), e.what());
  }
  c.config_yaml = read_text(dir / kConfig);
  return c;
}

std::optional<std::pair<StoredCheckpoint, CheckpointContent>> CheckpointStore::load_latest_valid() const {
  auto all = list();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      return std::make_pair(*it, load(it->dir));
    } catch (const Error& e) {
      spdlog::warn("skipping checkpoint {}: {}; trying the previous one", it->dir.string(), e.detail());
    }
  }
  return std::nullopt;
}

void CheckpointStore::rotate(int keep, std::optional<int64_t> best_step) const {
  if (keep <= 0) return;
  auto all = list();
  const size_t n = all.size();
  for (size_t i = 0; i + static_cast<size_t>(keep) < n; ++i) {
    if (best_step && all[i].step == *best_step) continue;
    std::error_code ec;
    fs::remove_all(all[i].dir, ec);
    if (ec) spdlog::warn("cannot remove old checkpoint {}: {}", all[i].dir.string(), ec.message());
  }
}

void CheckpointStore::clean_temporaries() const {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return;
  static const std::regex pattern("\\.?step-[0-9]+\\.(tmp|old)-[0-9]+");
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    if (std::regex_match(entry.path().filename().string(), pattern)) stale.push_back(entry.path());
  }
  for (const auto& p : stale) {
    spdlog::info("removing the leftover of an interrupted checkpoint write: {}", p.string());
    fs::remove_all(p, ec);
  }
}

}  // namespace mlxft
