// Write faults never lose work (issue 34), end to end. A short `mlxft train` run (the tiny model, 4
// steps, checkpoints at steps 2 and 4, every export format, tools.json, TensorBoard, samples, plots,
// the report and the log file) is traced once (MLXFT_TRACE_WRITES=1) to enumerate every durable
// write step of the run; then each step is failed in turn in a fresh run (MLXFT_FAIL_WRITE=N:MODE):
// - ENOSPC at every step, and a second mode at every step: EIO or a short write for writes, EIO for
//   fsyncs and renames, EDQUOT for creates (four tests: each mode over the odd and the even steps);
// - checkpoints, adapters, exports and the files written before training (lock, log, effective
//   config, data summary) stop the run with exit status 1 and "mlxft: i/o error: <file>: ...
//   <strerror>" (never a crash or an internal error); metrics.jsonl, TensorBoard, samples, plots,
//   the report and later log lines warn (naming the file and the errno) and the run ends normally
//   with the same final adapter as an uninterrupted run;
// - either way every published checkpoint verifies, the newest is the last one published before the
//   fault, and no temporary file or directory is left behind;
// - a fifth test resumes (--resume latest, no fault) after a fault at each step of the second
//   checkpoint's save and at every third step of the final exports: the final adapter is
//   bit-identical to the uninterrupted run's.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <regex>
#include <sstream>

#include "mlxft/train/checkpoint.h"
#include "support/test_support.h"
#include "train/train_e2e_util.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace {

using namespace mlxft::test::e2e;

struct Step {
  int64_t n = 0;
  std::string kind;  // create | write | flush | rename
  std::string path;  // as traced (absolute)
  std::string rel;   // relative to the run directory, the pid of temporaries as PID
};

// A recipe with everything a run can write: tool calls (tools.json), TensorBoard, samples, plots,
// every export format.
fs::path write_fault_recipe(const mlxft::test::TempDir& dir) {
  std::string data;
  for (int i = 0; i < 16; ++i) {
    data += nlohmann::json{{"conversations",
                            {{{"role", "user"}, {"content", "Read note " + std::to_string(i)}},
                             {{"role", "assistant"},
                              {"content", "tool_call: readNote\narguments: {\"n\": " + std::to_string(i) +
                                              "}\n\nResult: {\"ok\": true}\n\nDone."}}}}}
                .dump() +
            "\n";
  }
  mlxft::test::write_file(dir / "data.jsonl", data);
  const std::string yaml =
      "model:\n  path: " + tiny_model().string() + "\n  dtype: float32\n" +
      "lora:\n  rank: 4\n  alpha: 8\n  dropout: 0.05\n  target_modules: [q_proj, v_proj]\n"
      "data:\n  dataset_path: " + (dir / "data.jsonl").string() +
      "\n  min_examples: 10\n  valid_split: 0.25\n  max_seq_length: 128\n  tools: infer\n"
      "training:\n  max_steps: 4\n  batch_size: 4\n  gradient_accumulation_steps: 1\n"
      "  learning_rate: 5.0e-3\n  warmup_steps: 1\n  logging_steps: 1\n  eval_steps: 2\n  save_steps: 2\n"
      "  seed: 5\n"
      "output:\n  output_dir: " + (dir / "base").string() +
      "\n  save_total_limit: 0\n  export: [peft, mlx, fused, gguf, gguf-lora]\n"
      "logging:\n  plots: true\n  tensorboard: true\n  progress: plain\n"
      "evaluation:\n  eval_batch_size: 8\n  generate_samples: true\n  num_samples: 1\n  max_new_tokens: 2\n";
  const fs::path recipe = dir / "recipe.yaml";
  mlxft::test::write_file(recipe, yaml);
  return recipe;
}

mlxft::test::CommandResult train(const fs::path& recipe, const fs::path& out, const std::string& env,
                                 const std::string& extra = "") {
  return mlxft::test::run_command("MLXFT_TRACE_WRITES=1 " + env + " '" + mlxft::test::mlxft_binary().string() +
                                  "' train --config '" + recipe.string() + "' --set output.output_dir='" +
                                  out.string() + "' " + extra + " 2>&1");
}

std::vector<Step> trace_of(const std::string& output, const fs::path& run) {
  static const std::regex line("mlxft: write step ([0-9]+): ([a-z]+) ([^\n]+)");
  static const std::regex pid("tmp-[0-9]+"), events("tfevents\\.[^/]+$");
  std::vector<Step> steps;
  for (std::sregex_iterator it(output.begin(), output.end(), line), end; it != end; ++it) {
    Step s{std::stoll((*it)[1]), (*it)[2], (*it)[3], ""};
    s.rel = fs::path(s.path).lexically_relative(run).string();
    s.rel = std::regex_replace(std::regex_replace(s.rel, pid, "tmp-PID"), events, "tfevents.X");
    steps.push_back(s);
  }
  return steps;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// True: the fault must stop the run; false: a warning. Fails the test for a file of no known class.
bool must_stop(const Step& s) {
  if (starts_with(s.rel, "checkpoints/") || starts_with(s.rel, "final_model/")) return true;
  if (s.rel == ".lock" || starts_with(s.rel, ".effective_config.yaml.tmp-") || s.rel == "effective_config.yaml" ||
      starts_with(s.rel, ".data_summary.json.tmp-") || s.rel == "data_summary.json")
    return true;
  if (s.rel == "train.log") return s.kind == "create";
  const bool warns = s.rel == "metrics.jsonl" || s.rel == "samples.jsonl" || starts_with(s.rel, "tensorboard/") ||
                     starts_with(s.rel, ".plots.tmp/") || fs::path(s.rel).extension() == ".png" ||
                     starts_with(s.rel, ".report.html.tmp-") || s.rel == "report.html";
  EXPECT_TRUE(warns) << "a write of no known class: " << s.kind << " " << s.rel
                     << " (classify it here and make it stop the run or warn)";
  return false;
}

int mode_errno(const std::string& mode) {
  if (mode == "EIO") return EIO;
  if (mode == "EDQUOT") return EDQUOT;
  return ENOSPC;  // ENOSPC, short
}

// The second mode of a step: EIO or a short write for writes, EIO for fsyncs and renames, EDQUOT for creates.
std::string second_mode(const Step& s) {
  if (s.kind == "write") return s.n % 2 == 0 ? "short" : "EIO";
  if (s.kind == "create") return "EDQUOT";
  return "EIO";
}

std::vector<std::string> leftovers(const fs::path& run) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(run, ec); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos || name == ".plots.tmp")
      found.push_back(it->path().string());
  }
  return found;
}

// The step of the last checkpoint the base run had published before step n (0: none).
int64_t published_before(const std::vector<Step>& base, int64_t n) {
  int64_t step = 0;
  for (const Step& s : base) {
    if (s.n < n && s.kind == "rename" && starts_with(s.rel, "checkpoints/step-"))
      step = std::stoll(s.rel.substr(std::strlen("checkpoints/step-")));
  }
  return step;
}

// Every published checkpoint verifies; returns the newest step (0: none).
int64_t newest_valid_checkpoint(const fs::path& run) {
  const mlxft::CheckpointStore store(run / "checkpoints");
  int64_t newest = 0;
  for (const auto& c : store.list()) {
    EXPECT_EQ(mlxft::CheckpointStore::verify(c.dir), "") << c.dir;
    newest = c.step;
  }
  return newest;
}

bool same_final_adapter(const fs::path& a, const fs::path& b) {
  auto x = final_arrays(a), y = final_arrays(b);
  if (x.empty() || x.size() != y.size()) return false;
  for (auto& [name, arr] : x) {
    mx::array p = mx::contiguous(arr), q = mx::contiguous(y.at(name));
    mx::eval(p, q);
    if (p.nbytes() != q.nbytes() || std::memcmp(p.data<char>(), q.data<char>(), p.nbytes()) != 0) return false;
  }
  return true;
}

// The line of `output` that holds all of `parts`, or "".
std::string line_with(const std::string& output, const std::vector<std::string>& parts) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return line;
  }
  return "";
}

class WriteFaultsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    MLXFT_REQUIRE_TOKENIZER();
    recipe_ = write_fault_recipe(dir_);
    const auto r = train(recipe_, dir_ / "base", "");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    base_ = trace_of(r.output, dir_ / "base");
    ASSERT_GT(base_.size(), 100u) << r.output;
    std::map<std::string, int> files;
    for (const Step& s : base_) ++files[s.rel.substr(0, s.rel.find('/', s.rel.find('/') + 1))];
    std::cout << "the run: " << base_.size() << " durable write steps over " << files.size() << " files or directories\n";
    for (size_t i = 0; i < base_.size(); ++i) ASSERT_EQ(base_[i].n, static_cast<int64_t>(i + 1));
    for (const char* file : {"final_model/peft/tools.json", "final_model/model.gguf", "samples.jsonl",
                             "report.html", "loss.png", "train.log"})
      ASSERT_TRUE(fs::exists(dir_ / "base" / file)) << file << " not written: the enumeration misses it";
  }

  // Runs with step s failed by `mode` and checks the outcome; returns the run's directory.
  fs::path fail_step(const Step& s, const std::string& mode) {
    const fs::path run = dir_ / ("fault-" + std::to_string(s.n) + "-" + mode);
    const auto r = train(recipe_, run, "MLXFT_FAIL_WRITE=" + std::to_string(s.n) + ":" + mode);
    const std::vector<Step> trace = trace_of(r.output, run);
    const std::string what = "step " + std::to_string(s.n) + " (" + s.kind + " " + s.rel + ", " + mode + ")";
    EXPECT_GE(trace.size(), static_cast<size_t>(s.n)) << what << "\n" << r.output;
    if (trace.size() < static_cast<size_t>(s.n)) return run;
    const Step& failed = trace[static_cast<size_t>(s.n - 1)];
    EXPECT_EQ(failed.rel, s.rel) << what << ": the run's writes are not deterministic";
    const std::string err = std::strerror(mode_errno(mode));
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << what << "\n" << r.output;
    if (must_stop(s)) {
      EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.output;
      EXPECT_NE(line_with(r.output, {"mlxft: i/o error: ", failed.path, err}), "") << what << "\n" << r.output;
      EXPECT_EQ(newest_valid_checkpoint(run), published_before(base_, s.n)) << what;
      if (published_before(base_, s.n) > 0) {
        EXPECT_NE(r.output.find("--resume latest"), std::string::npos) << what << "\n" << r.output;
      }
    } else {
      EXPECT_EQ(r.exit_code, 0) << what << "\n" << r.output;
      EXPECT_NE(line_with(r.output, {"warning: ", failed.path, err}), "") << what << "\n" << r.output;
      EXPECT_EQ(newest_valid_checkpoint(run), 4) << what;
      EXPECT_TRUE(same_final_adapter(run, dir_ / "base")) << what;
    }
    EXPECT_EQ(leftovers(run), std::vector<std::string>{}) << what;
    return run;
  }

  void fail_every_step_with_enospc(int parity);
  void fail_every_step_with_second_mode(int parity);

  mlxft::test::TempDir dir_;
  fs::path recipe_;
  std::vector<Step> base_;
};

// ENOSPC at every step; each half of the steps (odd, even) is a test of its own, so that ctest runs
// them side by side.
void WriteFaultsE2E::fail_every_step_with_enospc(int parity) {
  int stops = 0, warns = 0;
  for (const Step& s : base_) {
    if (s.n % 2 != parity) continue;
    (must_stop(s) ? stops : warns) += 1;
    fs::remove_all(fail_step(s, "ENOSPC"));
  }
  std::cout << "a short run: " << base_.size() << " durable write steps; the " << (parity ? "odd" : "even")
            << " ones failed with ENOSPC: " << stops << " stopped the run, " << warns << " warned\n";
}

// The second mode at every step: EIO or a short write for writes, EIO for fsyncs and renames,
// EDQUOT for creates.
void WriteFaultsE2E::fail_every_step_with_second_mode(int parity) {
  std::map<std::string, int> modes;
  for (const Step& s : base_) {
    if (s.n % 2 != parity) continue;
    ++modes[s.kind + " " + second_mode(s)];
    fs::remove_all(fail_step(s, second_mode(s)));
  }
  for (const auto& [mode, count] : modes) std::cout << mode << ": " << count << " steps\n";
  EXPECT_GT(modes["flush EIO"], 5);  // a failed fsync
  EXPECT_GT(modes["rename EIO"], 5);  // a failed rename
  EXPECT_GT(modes["create EDQUOT"], 5);
}

TEST_F(WriteFaultsE2E, EveryOddWriteOfAShortRunFailedWithEnospcStopsCleanlyOrWarns) {
  fail_every_step_with_enospc(1);
}

TEST_F(WriteFaultsE2E, EveryEvenWriteOfAShortRunFailedWithEnospcStopsCleanlyOrWarns) {
  fail_every_step_with_enospc(0);
}

// Odd write steps get EIO, even ones a short write.
TEST_F(WriteFaultsE2E, EveryOddWriteFailedWithEioOrAFailedFsyncOrRenameStopsCleanlyOrWarns) {
  fail_every_step_with_second_mode(1);
}

TEST_F(WriteFaultsE2E, EveryEvenWriteFailedWithAShortWriteOrAFailedFsyncOrRenameStopsCleanlyOrWarns) {
  fail_every_step_with_second_mode(0);
}

TEST_F(WriteFaultsE2E, AResumeAfterAFaultInTheSecondCheckpointOrTheExportsEndsBitIdentical) {
  int resumed = 0;
  for (const Step& s : base_) {
    const bool second_checkpoint =
        starts_with(s.rel, "checkpoints/.step-000004") || starts_with(s.rel, "checkpoints/step-000004");
    if (!second_checkpoint && !(starts_with(s.rel, "final_model/") && s.n % 3 == 0)) continue;
    const fs::path run = fail_step(s, s.n % 2 == 0 ? "EIO" : "ENOSPC");
    const auto r = train(recipe_, run, "", "--resume latest");
    EXPECT_EQ(r.exit_code, 0) << "step " << s.n << " " << s.rel << "\n" << r.output;
    EXPECT_TRUE(same_final_adapter(run, dir_ / "base")) << "step " << s.n << " " << s.rel;
    fs::remove_all(run);
    ++resumed;
  }
  EXPECT_GT(resumed, 30);
  std::cout << resumed << " faults (every step of the second checkpoint, every third of the exports),"
            << " each resumed bit-identically\n";
}

}  // namespace
