// Write faults never lose work (issue 34): the fault seam of util/durable_file enumerates every step
// (create, write, flush, rename) of a checkpoint save, an adapter directory and an atomic file; each
// step is failed in turn (ENOSPC, EIO) and the save must stop with an mlxft::Error while the last
// good checkpoint / adapter / file stays loadable and unchanged, with no temporary left behind.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/adapters/peft_format.h"
#include "mlxft/model/init.h"
#include "mlxft/model/lora.h"
#include "mlxft/report/metrics.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

CheckpointContent content(float v) {
  CheckpointContent c;
  c.adapters.emplace("model.layers.0.self_attn.q_proj.lora_A", mx::full({4, 8}, v));
  c.adapters.emplace("model.layers.0.self_attn.q_proj.lora_B", mx::full({8, 4}, v / 2));
  c.optimizer.emplace("m.0", mx::full({4, 8}, v * 2));
  c.state = {{"step", static_cast<int>(v)}};
  c.config_yaml = "training:\n  seed: 42\n";
  return c;
}

// Clears the hook when a test ends, however it ends.
struct HookGuard {
  ~HookGuard() { set_write_fault_hook({}); }
};

// How many durable steps `action` takes (it runs once, unfailed).
int64_t count_steps(const std::function<void()>& action) {
  int64_t steps = 0;
  set_write_fault_hook([&](WriteStep, const fs::path&) {
    ++steps;
    return 0;
  });
  action();
  set_write_fault_hook({});
  return steps;
}

// Runs `action` with step `n` failing with `err`; the action must throw mlxft::Error.
void fail_step(int64_t n, int err, const std::function<void()>& action) {
  int64_t seen = 0;
  set_write_fault_hook([&](WriteStep, const fs::path&) { return ++seen == n ? err : 0; });
  EXPECT_THROW(action(), Error) << "step " << n << " failed with errno " << err;
  set_write_fault_hook({});
}

bool has_temporaries(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos) return true;
  }
  return false;
}

TEST(WriteFaults, EveryStepOfACheckpointSaveFailsCleanlyAndTheLastGoodOneStaysLoadable) {
  HookGuard guard;
  test::TempDir tmp;
  const CheckpointStore store(tmp / "checkpoints");
  store.save(1, content(1.0f));
  const int64_t steps = count_steps([&] { store.save(2, content(2.0f)); });
  fs::remove_all(tmp / "checkpoints" / CheckpointStore::dir_name(2));
  ASSERT_GE(steps, 12) << "adapters, optimizer, state, config, MANIFEST: create, write, flush each, and rename";
  for (int64_t n = 1; n <= steps; ++n) {
    for (const int err : {ENOSPC, EIO}) {
      fail_step(n, err, [&] { store.save(2, content(2.0f)); });
      const auto latest = store.load_latest_valid();
      ASSERT_TRUE(latest) << "step " << n;
      EXPECT_EQ(latest->first.step, 1) << "step " << n;
      EXPECT_TRUE(mx::array_equal(latest->second.adapters.at("model.layers.0.self_attn.q_proj.lora_A"),
                                  mx::full({4, 8}, 1.0f))
                      .item<bool>());
      EXPECT_FALSE(has_temporaries(tmp / "checkpoints")) << "step " << n;
    }
  }
  store.save(2, content(2.0f));  // and once the disk recovers, the next save works
  EXPECT_EQ(store.load_latest_valid()->first.step, 2);
  std::cout << "checkpoint save: " << steps << " durable steps, each failed with ENOSPC and EIO\n";
}

TEST(WriteFaults, EveryStepOfAnAdapterDirectoryFailsCleanlyAndTheOldAdapterStays) {
  HookGuard guard;
  test::TempDir tmp;
  ModelConfig c = preset_config("tiny", 64);
  LoraConfig lc;
  lc.rank = 2;
  const LoraAdapters old_adapters = init_lora(c, lc, 1);
  const LoraAdapters new_adapters = init_lora(c, lc, 2);
  save_adapter_peft(old_adapters, tmp / "adapter", "base");
  const std::string old_config = test::read_file(tmp / "adapter" / "adapter_config.json");
  const int64_t steps = count_steps([&] { save_adapter_peft(new_adapters, tmp / "other", "base"); });
  ASSERT_GE(steps, 6);
  for (int64_t n = 1; n <= steps; ++n) {
    fail_step(n, ENOSPC, [&] { save_adapter_peft(new_adapters, tmp / "adapter", "other-base"); });
    EXPECT_EQ(test::read_file(tmp / "adapter" / "adapter_config.json"), old_config) << "step " << n;
    EXPECT_NO_THROW((void)load_adapter(tmp / "adapter")) << "step " << n;
    EXPECT_FALSE(has_temporaries(tmp.path())) << "step " << n;
  }
}

TEST(WriteFaults, EveryStepOfAnAtomicFileFailsLeavingTheOldContent) {
  HookGuard guard;
  test::TempDir tmp;
  write_file_atomic(tmp / "metrics.json", "old\n");
  const int64_t steps = count_steps([&] { write_file_atomic(tmp / "other.json", "new\n"); });
  EXPECT_EQ(steps, 4);  // create, write, flush, rename
  for (int64_t n = 1; n <= steps; ++n) {
    fail_step(n, EIO, [&] { write_file_atomic(tmp / "metrics.json", "new\n"); });
    EXPECT_EQ(test::read_file(tmp / "metrics.json"), "old\n");
    EXPECT_FALSE(has_temporaries(tmp.path())) << "step " << n;
  }
  try {  // the error names the file and the step
    set_write_fault_hook([](WriteStep s, const fs::path&) { return s == WriteStep::Flush ? ENOSPC : 0; });
    write_file_atomic(tmp / "metrics.json", "new\n");
    ADD_FAILURE() << "the flush did not fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot flush"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
}

// An append (metrics.jsonl) through the seam: a short write fails naming the file and ENOSPC and
// leaves a torn line; the next writer starts a new line, and the reader skips the torn one.
TrainMetrics train_line(int64_t step) {
  TrainMetrics m;
  m.step = step;
  m.loss = 1.0;
  return m;
}

TEST(WriteFaults, AShortAppendFailsNamingTheFileAndItsTornLineIsSkippedAfterwards) {
  HookGuard guard;
  test::TempDir tmp;
  const fs::path file = tmp / "metrics.jsonl";
  {
    MetricsWriter w(file, false);
    w.write(train_line(1));
    set_write_fault_hook([](WriteStep s, const fs::path&) { return s == WriteStep::Write ? kShortWrite : 0; });
    try {
      w.write(train_line(2));
      ADD_FAILURE() << "the short write did not fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), file.string());
      EXPECT_NE(e.detail().find("No space left"), std::string::npos) << e.what();
    }
    set_write_fault_hook({});
  }
  const std::string torn = test::read_file(file);
  EXPECT_NE(torn.back(), '\n') << "half of the second line should be there";
  MetricsWriter(file, true).write(train_line(3));
  const RunMetrics m = read_metrics(file);
  ASSERT_EQ(m.train.size(), 2u);
  EXPECT_EQ(m.train[1].step, 3);
  EXPECT_EQ(m.bad_lines, 1);
}

TEST(WriteFaults, AFailedTemporaryWriteNamesTheFinalPathFirstAndTheTemporaryAfterIt) {
  HookGuard guard;
  test::TempDir tmp;
  const fs::path file = tmp / "adapter_config.json";
  set_write_fault_hook([](WriteStep s, const fs::path&) { return s == WriteStep::Write ? EIO : 0; });
  try {
    write_file_atomic(file, "{}");
    ADD_FAILURE() << "the write did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().rfind(file.string() + " (while writing its temporary copy " + (tmp / ".adapter_config.json.tmp-").string(), 0), 0u)
        << e.where();
  }
  StagedDirectory staged(tmp / "peft");
  try {
    write_staged_file(staged.path() / "adapter_model.safetensors", "x");
    ADD_FAILURE() << "the staged write did not fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().rfind((tmp / "peft" / "adapter_model.safetensors").string() + " (while writing", 0), 0u) << e.where();
  }
  set_write_fault_hook({});
  EXPECT_EQ(published_path(tmp / ".ckpt.tmp-12/.a.json.tmp-7"), tmp / "ckpt" / "a.json");
  for (const char* kept : {".tmp-12", "x.tmp-12", ".x.tmp-", ".x.tmp-1a", "..tmp-3"}) {
    EXPECT_EQ(published_path(tmp / kept), tmp / kept) << kept;
  }
  EXPECT_EQ(write_error_place(tmp / "plain.json"), (tmp / "plain.json").string());
}

}  // namespace
}  // namespace mlxft
