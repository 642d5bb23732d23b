// What the end-to-end train tests share: a tiny random Mistral-shaped model (hidden 64, 2 layers)
// with the real v3 tokenizer, a small learnable dataset, recipes for them, and starting and waiting
// for `mlxft train` processes.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mlxft/export/random_model.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "support/test_support.h"

namespace mlxft::test::e2e {

namespace fs = std::filesystem;
namespace mx = mlx::core;

// A tiny random model directory (created once per process) with the real v3 tokenizer. Its LM head
// is scaled from std 0.02 to 0.3: with the preset's 0.02 the frozen head bounds every logit near
// 1.3 (RMS-normed hidden of norm 8 times a row of norm 0.16), so no adapter could lower the loss
// much below ln(32768); 0.3 leaves room to learn while the weights stay random.
inline fs::path tiny_model() {
  static mlxft::test::TempDir dir;
  const fs::path out = dir / "tiny";
  if (!fs::exists(out / "config.json")) {
    mlxft::InitOptions o;
    o.config = mlxft::preset_config("tiny", 32768);
    o.tokenizer = mlxft::test::v3_tokenizer();
    o.seed = 1;
    o.out = out;
    mlxft::write_model(o);
    const std::string file = (out / "model.safetensors").string();
    auto [weights, meta] = mx::load_safetensors(file);
    weights.insert_or_assign("lm_head.weight", mx::multiply(weights.at("lm_head.weight"), mx::array(15.0f)));
    mx::save_safetensors(file, weights, meta);
  }
  return out;
}

// labelled: every third record counts backwards and is labelled false (undesirable); the others true.
inline void write_dataset(const fs::path& file, int n, bool labelled = false) {
  static const char* words[] = {"one", "two",   "three", "four", "five",
                                "six", "seven", "eight", "nine", "ten"};
  std::string text;
  for (int i = 0; i < n; ++i) {
    const int start = i % 6;
    const bool bad = labelled && i % 3 == 2;
    std::string answer;
    for (int k = start; k < start + 5; ++k)
      answer += std::string(k > start ? " " : "") + words[bad ? 9 - k : k];
    nlohmann::json rec = {{"messages",
                           {{{"role", "user"}, {"content", std::string("Count on from ") + words[start]}},
                            {{"role", "assistant"}, {"content", answer}}}}};
    if (labelled) rec["label"] = !bad;
    text += rec.dump() + "\n";
  }
  mlxft::test::write_file(file, text);
}

// A recipe for the tiny model; `training` is the training section; `data_extra` is appended to the
// data section, and a labelled dataset (write_dataset) is used when it is not empty.
inline fs::path write_recipe(const mlxft::test::TempDir& dir, const std::string& name,
                             const std::string& training, const std::string& data_extra = "") {
  const bool labelled = !data_extra.empty();
  const fs::path data = dir / (labelled ? "labelled.jsonl" : "data.jsonl");
  if (!fs::exists(data)) write_dataset(data, 64, labelled);
  const std::string yaml =
      "model:\n  path: " + tiny_model().string() + "\n  dtype: float32\n" +
      "lora:\n  rank: 8\n  alpha: 16\n  dropout: 0.05\n"
      "  target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]\n" +
      "data:\n  dataset_path: " + data.string() +
      "\n  min_examples: 10\n  valid_split: 0.125\n  max_seq_length: 64\n" + data_extra + "training:\n" +
      training + "output:\n  output_dir: " + (dir / name).string() +
      "\n  save_total_limit: 0\n"
      "logging:\n  plots: false\n  progress: plain\n"
      "evaluation:\n  eval_batch_size: 8\n  generate_samples: false\n";
  const fs::path recipe = dir / (name + ".yaml");
  mlxft::test::write_file(recipe, yaml);
  return recipe;
}

inline std::map<std::string, mx::array> final_arrays(const fs::path& run) {
  auto [arrays, meta] =
      mx::load_safetensors((run / "final_model" / "peft" / "adapter_model.safetensors").string());
  return {arrays.begin(), arrays.end()};
}

// Starts `mlxft train ...` in the background with `env` added to the environment; output to `log`.
inline pid_t spawn_train(const fs::path& recipe, const fs::path& log,
                         const std::vector<std::string>& extra = {},
                         const std::map<std::string, std::string>& env = {}) {
  std::cout.flush();  // else the child's freopen writes the parent's buffered output a second time
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), fileno(stderr));
    std::vector<std::string> args = {mlxft::test::mlxft_binary().string(), "train", "--config",
                                     recipe.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// wait_exit() for at most `seconds`; then the process is killed (SIGKILL) and -1 returned.
inline int wait_exit_within(pid_t pid, double seconds) {
  for (int i = 0; i < static_cast<int>(seconds * 100); ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

}  // namespace mlxft::test::e2e
