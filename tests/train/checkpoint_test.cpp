// The checkpoint store: round trip, corruption detection (truncated file, bad MANIFEST, leftover
// .tmp directory), fallback to the previous good checkpoint, rotation keeping the best.
#include "mlxft/train/checkpoint.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "mlxft/train/signals.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using mlxft::CheckpointStore;

namespace {

mlxft::CheckpointContent content(float v) {
  mlxft::CheckpointContent c;
  c.adapters.emplace("model.layers.0.self_attn.q_proj.lora_A", mx::full({4, 8}, v));
  c.adapters.emplace("model.layers.0.self_attn.q_proj.lora_B", mx::zeros({8, 4}));
  c.optimizer.emplace("m.0", mx::full({4, 8}, v * 2));
  c.optimizer.emplace("step", mx::array(int64_t{7}));
  c.state = {{"step", static_cast<int>(v)}, {"epoch", 0}};
  c.config_yaml = "training:\n  seed: 42\n";
  return c;
}

}  // namespace

TEST(TrainCheckpoint, SaveThenLoadRoundTrips) {
  mlxft::test::TempDir tmp;
  CheckpointStore store(tmp / "checkpoints");
  const fs::path dir = store.save(100, content(3.0f));
  EXPECT_EQ(dir.filename(), "step-000100");
  EXPECT_EQ(CheckpointStore::verify(dir), "");
  auto c = CheckpointStore::load(dir);
  EXPECT_TRUE(mx::array_equal(c.adapters.at("model.layers.0.self_attn.q_proj.lora_A"), mx::full({4, 8}, 3.0f))
                  .item<bool>());
  EXPECT_EQ(c.optimizer.at("step").item<int64_t>(), 7);
  EXPECT_EQ(c.state["step"], 3);
  EXPECT_EQ(c.config_yaml, "training:\n  seed: 42\n");
  // nothing temporary is left behind
  for (const auto& e : fs::directory_iterator(store.root())) EXPECT_EQ(e.path().filename(), "step-000100");
}

TEST(TrainCheckpoint, TruncatedFileFallsBackToPreviousGoodCheckpoint) {
  mlxft::test::TempDir tmp;
  CheckpointStore store(tmp / "checkpoints");
  store.save(10, content(1.0f));
  const fs::path newest = store.save(20, content(2.0f));
  fs::resize_file(newest / "adapters.safetensors", fs::file_size(newest / "adapters.safetensors") - 5);
  EXPECT_NE(CheckpointStore::verify(newest), "");
  EXPECT_THROW(CheckpointStore::load(newest), mlxft::Error);
  auto latest = store.load_latest_valid();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->first.step, 10);
  EXPECT_EQ(latest->second.state["step"], 1);
}

TEST(TrainCheckpoint, BadManifestOrFlippedByteIsRejected) {
  mlxft::test::TempDir tmp;
  CheckpointStore store(tmp / "checkpoints");
  const fs::path a = store.save(1, content(1.0f));
  mlxft::test::write_file(a / "MANIFEST", "garbage\n");
  EXPECT_NE(CheckpointStore::verify(a), "");
  const fs::path b = store.save(2, content(2.0f));
  {  // same size, one byte changed: only the CRC catches it
    std::fstream f(b / "optimizer.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  EXPECT_NE(CheckpointStore::verify(b).find("CRC"), std::string::npos);
  EXPECT_FALSE(store.load_latest_valid().has_value());
}

TEST(TrainCheckpoint, LeftoverTmpDirectoryIsIgnoredAndCleaned) {
  mlxft::test::TempDir tmp;
  CheckpointStore store(tmp / "checkpoints");
  store.save(5, content(5.0f));
  // What a kill -9 in the middle of a save leaves: a half-written temporary directory.
  fs::create_directories(store.root() / "step-000010.tmp-12345");
  mlxft::test::write_file(store.root() / "step-000010.tmp-12345" / "adapters.safetensors", "partial");
  // ... and a published-looking directory without a MANIFEST.
  fs::create_directories(store.root() / "step-000011");
  auto latest = store.load_latest_valid();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->first.step, 5);
  store.clean_temporaries();
  EXPECT_FALSE(fs::exists(store.root() / "step-000010.tmp-12345"));
}

TEST(TrainCheckpoint, RotationKeepsNewestAndBest) {
  mlxft::test::TempDir tmp;
  CheckpointStore store(tmp / "checkpoints");
  for (int s = 1; s <= 5; ++s) store.save(s * 10, content(static_cast<float>(s)));
  store.rotate(2, 20);
  std::vector<int64_t> steps;
  for (const auto& c : store.list()) steps.push_back(c.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{20, 40, 50}));
  store.rotate(0, std::nullopt);  // keep all
  EXPECT_EQ(store.list().size(), 3u);
}

TEST(TrainCheckpoint, Crc32MatchesKnownValue) {
  mlxft::test::TempDir tmp;
  mlxft::test::write_file(tmp / "f", "123456789");
  EXPECT_EQ(mlxft::file_crc32(tmp / "f"), 0xCBF43926u);  // the CRC-32 check value
}

TEST(TrainSignals, FirstSigtermIsRecordedNotFatal) {
  mlxft::StopSignals stop;
  EXPECT_FALSE(stop.requested());
  std::raise(SIGTERM);
  EXPECT_TRUE(stop.requested());
  EXPECT_EQ(stop.exit_code(), 143);
}
