// Data-parallel `mlxft train` on this machine: two processes joined by MLX's ring backend over
// loopback (the environment mlx.launch would give them: MLX_RANK and an MLX_HOSTFILE of free ports).
// - 2 ranks x micro-batch 1 x accumulation 2 train like 1 process x micro-batch 2 x accumulation 2
//   on the same data and seed: the same loss at every step (1e-6 relative; measured 1e-7) and the
//   same final adapters (1e-6; measured 1.5e-8), not bit-identical: each rank multiplies its own
//   row (other matmul shapes) and the float32 gradient sums are added in another order;
// - both ranks killed (SIGKILL) and resumed end bit-identical to the uninterrupted 2-rank run;
// - SIGTERM on one rank stops both after the same step with one checkpoint, and they resume;
// - a rank killed makes the other exit with an error naming the lost rank at once; a rank stopped
//   (SIGSTOP) makes it exit after system.distributed_timeout_s;
// - batches that do not shard are configuration errors on every rank.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "mlxft/train/distributed.h"
#include "support/test_support.h"
#include "train/train_e2e_util.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using namespace mlxft::test::e2e;

namespace {

// Global micro-batch 2, accumulation 2, no dropout (its masks depend on the batch shape), float32
// compute (bfloat16 kernels round differently for other batch shapes: ~1e-5 of the loss), one BLAS
// thread per process, a line per step, a checkpoint per step.
const char* kRun =
    "  max_steps: 6\n  batch_size: 2\n  gradient_accumulation_steps: 2\n  learning_rate: 1.0e-3\n"
    "  warmup_steps: 1\n  logging_steps: 1\n  eval_steps: 3\n  save_steps: 1\n  seed: 7\n";
const std::vector<std::string> kFlags = {
    "--set", "lora.dropout=0",   "--set", "model.compute_dtype=float32",
    "--set", "system.threads=1", "--set", "system.distributed_timeout_s=60"};

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Two ranks of `mlxft train --config recipe [extra]` on loopback; rank_env adds per-rank variables.
struct TwoRanks {
  pid_t pid[2] = {-1, -1};
  fs::path log[2];

  TwoRanks(const mlxft::test::TempDir& dir, const fs::path& recipe, const std::string& tag,
           const std::vector<std::string>& extra = {},
           const std::map<std::string, std::string>& rank1_env = {}) {
    const fs::path hosts = dir / (tag + "_hosts.json");
    int p0 = free_port(), p1 = free_port();
    while (p1 == p0) p1 = free_port();
    mlxft::test::write_file(hosts, nlohmann::json::array({nlohmann::json::array({fmt_host(p0)}),
                                                          nlohmann::json::array({fmt_host(p1)})})
                                       .dump());
    std::vector<std::string> args = kFlags;
    args.insert(args.end(), extra.begin(), extra.end());
    for (int r = 0; r < 2; ++r) {
      std::map<std::string, std::string> env = {{"MLX_RANK", std::to_string(r)},
                                                {"MLX_HOSTFILE", hosts.string()}};
      if (r == 1) env.insert(rank1_env.begin(), rank1_env.end());
      log[r] = dir / (tag + "_rank" + std::to_string(r) + ".log");
      pid[r] = spawn_train(recipe, log[r], args, env);
    }
  }
  static std::string fmt_host(int port) { return "127.0.0.1:" + std::to_string(port); }
  int wait(int r, double seconds = 300) { return wait_exit_within(pid[r], seconds); }
  std::string output(int r) const { return mlxft::test::read_file(log[r]); }
  ~TwoRanks() {
    for (pid_t p : pid) {
      if (p > 0 && waitpid(p, nullptr, WNOHANG) == 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
  }
};

std::vector<double> train_losses(const fs::path& run) {
  std::vector<double> out;
  std::istringstream lines(mlxft::test::read_file(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j["train/loss"].get<double>());
  }
  return out;
}

std::vector<double> train_tokens(const fs::path& run) {
  std::vector<double> out;
  std::istringstream lines(mlxft::test::read_file(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j["train/trained_tokens"].get<double>());
  }
  return out;
}

// The largest |a - b| over every adapter array of two runs' final models.
double max_adapter_diff(const fs::path& a, const fs::path& b) {
  auto x = final_arrays(a), y = final_arrays(b);
  EXPECT_EQ(x.size(), y.size());
  double worst = 0.0;
  for (auto& [name, arr] : x) {
    mx::array d = mx::max(mx::abs(mx::subtract(arr, y.at(name))));
    mx::eval(d);
    worst = std::max(worst, static_cast<double>(d.item<float>()));
  }
  return worst;
}

bool wait_for(const fs::path& file, double seconds) {
  for (int i = 0; i < static_cast<int>(seconds * 100) && !fs::exists(file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return fs::exists(file);
}

}  // namespace

TEST(DistributedGroup, AloneItIsAGroupOfOneWithIdentityOperations) {
  const auto g = mlxft::DistributedGroup::join("off", 10);
  EXPECT_EQ(g.size(), 1);
  EXPECT_FALSE(g.active());
  const std::vector<int64_t> rows = {4, 9, 2};
  EXPECT_EQ(g.shard(rows), rows);
  EXPECT_EQ(g.sum(std::vector<double>{1.5, 2.0}, "test"), (std::vector<double>{1.5, 2.0}));
  EXPECT_TRUE(g.any(true, "test"));
}

// The shards of a micro-batch cover it in order, each row once, sizes differing by at most one.
TEST(DistributedGroup, ShardsCoverTheMicroBatchInOrder) {
  using G = mlxft::DistributedGroup;
  const std::vector<int64_t> rows = {7, 3, 9, 1, 4};
  EXPECT_EQ(G::shard_of(rows, 0, 2), (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(G::shard_of(rows, 1, 2), (std::vector<int64_t>{9, 1, 4}));
  for (int size : {1, 2, 3, 4, 5, 8}) {
    std::vector<int64_t> joined;
    for (int r = 0; r < size; ++r) {
      const auto part = G::shard_of(rows, r, size);
      EXPECT_LE(part.size(), rows.size() / static_cast<size_t>(size) + 1) << size;
      joined.insert(joined.end(), part.begin(), part.end());
    }
    EXPECT_EQ(joined, rows) << size;
  }
  EXPECT_TRUE(G::shard_of({5}, 0, 2).empty());  // a rank may get nothing (the last micro-batch)
  EXPECT_EQ(G::shard_of({5}, 1, 2), (std::vector<int64_t>{5}));
}

TEST(DistributedE2E, TwoRanksTrainLikeOneProcessAndResumeAfterBothAreKilled) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path one = write_recipe(dir, "one", kRun);
  std::string cmd = "train --config " + one.string();
  for (const auto& f : kFlags) cmd += " " + f;
  auto single = mlxft::test::run_mlxft(cmd);
  ASSERT_EQ(single.exit_code, 0) << single.output;

  const fs::path two = write_recipe(dir, "two", kRun);
  TwoRanks run(dir, two, "two");
  ASSERT_EQ(run.wait(0), 0) << run.output(0);
  ASSERT_EQ(run.wait(1), 0) << run.output(1);
  EXPECT_NE(run.output(0).find("ranks:       2 processes (data parallel), micro-batch 1 per rank = 2 global"),
            std::string::npos)
      << run.output(0);
  const auto l1 = train_losses(dir / "one"), l2 = train_losses(dir / "two");
  ASSERT_EQ(l1.size(), 6u);
  ASSERT_EQ(l2.size(), 6u);
  for (size_t i = 0; i < l1.size(); ++i) {
    std::cout << std::setprecision(10) << "step " << i + 1 << " loss: 1 process " << l1[i] << ", 2 ranks "
              << l2[i] << "\n";
    EXPECT_NEAR(l1[i], l2[i], 1e-6 * l1[i]) << "step " << i + 1;
  }
  EXPECT_EQ(train_tokens(dir / "one"), train_tokens(dir / "two"));  // global tokens

  const double diff = max_adapter_diff(dir / "one", dir / "two");
  std::cout << "max |adapter difference| 1 process vs 2 ranks: " << diff << "\n";
  EXPECT_LT(diff, 1e-6);

  // Both ranks killed once step 3 is checkpointed; resumed, they end as the uninterrupted run.
  const fs::path killed = write_recipe(dir, "killed", kRun);
  {
    TwoRanks cut(dir, killed, "killed");
    ASSERT_TRUE(wait_for(dir / "killed" / "checkpoints" / "step-000003" / "MANIFEST", 300)) << cut.output(0);
    kill(cut.pid[0], SIGKILL);
    kill(cut.pid[1], SIGKILL);
    EXPECT_EQ(cut.wait(0, 30), 128 + SIGKILL);
    EXPECT_EQ(cut.wait(1, 30), 128 + SIGKILL);
  }
  TwoRanks resumed(dir, killed, "resumed", {"--resume", "latest"});
  ASSERT_EQ(resumed.wait(0), 0) << resumed.output(0);
  ASSERT_EQ(resumed.wait(1), 0) << resumed.output(1);
  EXPECT_NE(resumed.output(0).find("resumed from"), std::string::npos) << resumed.output(0);
  EXPECT_EQ(max_adapter_diff(dir / "two", dir / "killed"), 0.0);
  EXPECT_EQ(train_losses(dir / "killed"), l2);
}

TEST(DistributedE2E, SigtermOnOneRankStopsBothAtTheSameStep) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kRun);
  TwoRanks run(dir, recipe, "run", {}, {{"MLXFT_TEST_SIGTERM_AFTER_STEP", "2"}});
  EXPECT_EQ(run.wait(0), 143) << run.output(0);
  EXPECT_EQ(run.wait(1), 143) << run.output(1);
  EXPECT_NE(run.output(0).find("stopped by signal 15 at step 2"), std::string::npos) << run.output(0);
  EXPECT_TRUE(fs::exists(dir / "run" / "checkpoints" / "step-000002" / "MANIFEST"));
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step-000003"));
  TwoRanks resumed(dir, recipe, "resumed", {"--resume", "latest"});
  ASSERT_EQ(resumed.wait(0), 0) << resumed.output(0);
  ASSERT_EQ(resumed.wait(1), 0) << resumed.output(1);
  EXPECT_EQ(train_losses(dir / "run").size(), 6u);
}

TEST(DistributedE2E, ALostRankEndsTheOtherWithAnErrorNamingIt) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kRun);
  TwoRanks run(dir, recipe, "run");
  ASSERT_TRUE(wait_for(dir / "run" / "checkpoints" / "step-000002" / "MANIFEST", 300)) << run.output(0);
  kill(run.pid[1], SIGKILL);
  EXPECT_EQ(run.wait(1, 30), 128 + SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run.wait(0, 120), 1) << run.output(0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string out = run.output(0);
  EXPECT_NE(out.find("rank 1 is lost"), std::string::npos) << out;
  EXPECT_NE(out.find("rank 0 of 2"), std::string::npos) << out;
  std::cout << "rank 0 ended " << seconds << " s after rank 1 was killed\n";
}

// A rank that stops answering (SIGSTOP: alive, its sockets open) is caught by the watchdog.
TEST(DistributedE2E, AStuckRankEndsTheOtherAfterTheTimeout) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kRun);
  TwoRanks run(dir, recipe, "run", {"--set", "system.distributed_timeout_s=3"});
  ASSERT_TRUE(wait_for(dir / "run" / "checkpoints" / "step-000002" / "MANIFEST", 300)) << run.output(0);
  kill(run.pid[1], SIGSTOP);
  EXPECT_EQ(run.wait(0, 120), 1) << run.output(0);
  kill(run.pid[1], SIGKILL);
  const std::string out = run.output(0);
  EXPECT_NE(out.find("got no answer within 3 s: rank 1 is lost or stuck"), std::string::npos) << out;
}

// Configuration checks that need the world size: a global micro-batch that does not split evenly,
// and KTO with fewer than 2 examples per rank (its KL reference pairs examples within a micro-batch).
TEST(DistributedE2E, BatchesThatDoNotShardAreConfigErrorsOnEveryRank) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path odd =
      write_recipe(dir, "odd", std::regex_replace(kRun, std::regex("batch_size: 2"), "batch_size: 3"));
  TwoRanks a(dir, odd, "odd");
  EXPECT_EQ(a.wait(0, 120), 2) << a.output(0);
  EXPECT_EQ(a.wait(1, 120), 2) << a.output(1);
  EXPECT_NE(a.output(0).find("must be a multiple of 2"), std::string::npos) << a.output(0);
  const fs::path kto = write_recipe(dir, "kto", std::string(kRun) + "  objective: kto\n", "  labels: all\n");
  TwoRanks b(dir, kto, "kto");
  EXPECT_EQ(b.wait(0, 120), 2) << b.output(0);
  EXPECT_EQ(b.wait(1, 120), 2) << b.output(1);
  EXPECT_NE(b.output(1).find("set training.batch_size to at least 4"), std::string::npos) << b.output(1);
  EXPECT_FALSE(fs::exists(dir / "kto" / "metrics.jsonl"));
}

// An odd number of training examples: the epoch's last micro-batch has one row, so rank 1's shard is
// empty (it computes a row with weight zero for the exchange). Still the same losses and adapters.
// (SGD here, Adam in the test above: the update rule does not matter.)
TEST(DistributedE2E, AnEmptyShardAtTheEpochEndCountsNothing) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  write_dataset(dir / "data.jsonl", 72);  // 63 train, 9 validation: 32 micro-batches, the last of 1
  const std::string epoch =
      "  num_epochs: 1\n  batch_size: 2\n  gradient_accumulation_steps: 2\n  learning_rate: 5.0e-3\n"
      "  optimizer: sgd\n"
      "  warmup_steps: 1\n  logging_steps: 1\n  eval_steps: 100\n  save_steps: 100\n  seed: 7\n";
  const fs::path one = write_recipe(dir, "one", epoch);
  std::string cmd = "train --config " + one.string();
  for (const auto& f : kFlags) cmd += " " + f;
  auto single = mlxft::test::run_mlxft(cmd);
  ASSERT_EQ(single.exit_code, 0) << single.output;
  ASSERT_NE(single.output.find("63 train"), std::string::npos) << single.output;
  TwoRanks run(dir, write_recipe(dir, "two", epoch), "two");
  ASSERT_EQ(run.wait(0), 0) << run.output(0);
  ASSERT_EQ(run.wait(1), 0) << run.output(1);
  const auto l1 = train_losses(dir / "one"), l2 = train_losses(dir / "two");
  ASSERT_EQ(l1.size(), 16u);
  ASSERT_EQ(l2.size(), 16u);
  for (size_t i = 0; i < l1.size(); ++i) {
    std::cout << std::setprecision(10) << "step " << i + 1 << " loss: 1 process " << l1[i] << ", 2 ranks "
              << l2[i] << "\n";
    EXPECT_NEAR(l1[i], l2[i], 1e-6 * l1[i]) << "step " << i + 1;
  }
  EXPECT_EQ(train_tokens(dir / "one"), train_tokens(dir / "two"));
  const double diff = max_adapter_diff(dir / "one", dir / "two");
  std::cout << "max |adapter difference|: " << diff << "\n";
  EXPECT_LT(diff, 1e-6);
}
