#include "support/test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace mlxft::test {

fs::path v3_tokenizer() {
  const fs::path p = MLXFT_V3_TOKENIZER;
  return (!p.empty() && fs::exists(p)) ? p : fs::path();
}

fs::path source_dir() {
  return MLXFT_SOURCE_DIR;
}

fs::path seed_dataset() {
  const char* env = std::getenv("MLXFT_SEED_DATASET");  // a checkout elsewhere (a git worktree)
  const fs::path p =
      env != nullptr ? fs::path(env)
                     : source_dir().parent_path() / "shared" / "data" / "syngen_toolset_v1.0.0_claude.jsonl";
  return fs::exists(p) ? p : fs::path();
}

fs::path mlxft_binary() {
  return MLXFT_BINARY;
}

bool strict_references() {
  const char* ci = std::getenv("CI");
  const char* strict = std::getenv("MLXFT_STRICT");
  return (ci != nullptr && std::string(ci) == "true") || (strict != nullptr && std::string(strict) == "1");
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate =
        fs::temp_directory_path() / ("mlxft-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  const std::string full = command_line + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command_line);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult run_mlxft(const std::string& args) {
  return run_command("'" + mlxft_binary().string() + "' " + args);
}

CommandResult init_tiny_model(const fs::path& out, int seed) {
  return run_mlxft("model init --preset tiny --seed " + std::to_string(seed) + " --tokenizer '" +
                   v3_tokenizer().string() + "' --out '" + out.string() + "'");
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << content;
}

}  // namespace mlxft::test
