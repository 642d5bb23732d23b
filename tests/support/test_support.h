// Shared helpers for the test suite: where the real tokenizer, the source
// tree and the seed dataset are; temporary directories; running the mlxft
// binary and capturing its output.
#pragma once

#include <filesystem>
#include <string>

#include "mlxft/chat/conversation.h"

namespace mlxft::test {

// The real Mistral v3 tokenizer from the mistral-common wheel ("" if absent).
std::filesystem::path v3_tokenizer();
std::filesystem::path source_dir();
// ../shared/data/syngen_toolset_v1.0.0_claude.jsonl beside the repo, or $MLXFT_SEED_DATASET ("" if absent).
std::filesystem::path seed_dataset();
std::filesystem::path mlxft_binary();
// True when CI=true or MLXFT_STRICT=1: missing references fail instead of skipping.
bool strict_references();

// A fresh directory under the system temp dir, removed when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line (through /bin/sh) and captures its output.
CommandResult run_command(const std::string& command_line);
// Runs build/mlxft with the given argument string.
CommandResult run_mlxft(const std::string& args);

// `mlxft model init --preset tiny --seed SEED` with the real v3 tokenizer into `out`.
CommandResult init_tiny_model(const std::filesystem::path& out, int seed = 3);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

// A message of `role` with text `content` (the chat-format tests build conversations from these).
inline Message msg(Role role, std::string content) {
  Message m;
  m.role = role;
  m.content = std::move(content);
  return m;
}

}  // namespace mlxft::test

// A reference the test compares against (`what` names it) must be present: when it is not, the
// test skips, except under CI=true (or MLXFT_STRICT=1), where it fails.
#define MLXFT_REQUIRE_REFERENCE(present, what)                            \
  do {                                                                    \
    if (!(present)) {                                                     \
      if (::mlxft::test::strict_references())                             \
        GTEST_FAIL() << (what) << " is missing, and CI=true requires it"; \
      else                                                                \
        GTEST_SKIP() << (what) << " is missing";                          \
    }                                                                     \
  } while (0)

// The real Mistral v3 tokenizer (mistral-common in the venv) is required.
#define MLXFT_REQUIRE_TOKENIZER()                                 \
  MLXFT_REQUIRE_REFERENCE(!::mlxft::test::v3_tokenizer().empty(), \
                          "the Mistral v3 tokenizer (mistral-common in the venv)")
