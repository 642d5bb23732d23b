// `mlxft train --tensorboard` end to end: a run stopped by SIGTERM and resumed, then rewound to an
// earlier checkpoint, leaves event files whose every tag and step has one value, equal (as float32) to
// metrics.jsonl as read_metrics() reads it. (TensorBoard's own reader is checked on such runs by
// scripts/reference/tensorboard_check.py; the bytes against its writer by tests/report/event_file_test.)
#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "mlxft/report/metrics.h"
#include "mlxft/report/tensorboard.h"
#include "support/test_support.h"
#include "train/train_e2e_util.h"

namespace fs = std::filesystem;

namespace {

using namespace mlxft::test::e2e;
using Scalars = std::map<std::pair<std::string, int64_t>, float>;

// What the events must hold: every number of every metrics line that read_metrics() keeps.
Scalars expected(const fs::path& run) {
  const mlxft::RunMetrics m = mlxft::read_metrics(run / "metrics.jsonl");
  Scalars out;
  for (const auto& t : m.train) {
    for (const auto& [tag, v] :
         std::map<std::string, double>{{"train/loss", t.loss},
                                       {"train/learning_rate", t.learning_rate},
                                       {"train/gradient_norm", t.gradient_norm},
                                       {"train/tokens_per_second", t.tokens_per_second},
                                       {"train/trained_tokens", static_cast<double>(t.trained_tokens)},
                                       {"system/memory_gb", t.memory_gb},
                                       {"system/peak_memory_gb", t.peak_memory_gb},
                                       {"time_s", t.time_s},
                                       {"train/epoch", t.epoch}})
      out[{tag, t.step}] = static_cast<float>(v);
  }
  for (const auto& e : m.eval) {
    for (const auto& [tag, v] : std::map<std::string, double>{{"eval/loss", e.loss},
                                                              {"eval/perplexity", e.perplexity},
                                                              {"eval/tokens", static_cast<double>(e.tokens)},
                                                              {"eval/epoch", e.epoch},
                                                              {"eval/best", e.best ? 1.0 : 0.0}})
      out[{tag, e.step}] = static_cast<float>(v);
  }
  return out;
}

Scalars written(const fs::path& run) {
  Scalars out;
  for (const fs::path& f : mlxft::event_files(run / "tensorboard")) {
    const mlxft::EventFile file = mlxft::read_event_file(f);
    EXPECT_TRUE(file.complete) << f;
    for (const auto& e : file.events) {
      for (const auto& v : e.scalars) {
        EXPECT_EQ(out.count({v.tag, e.step}), 0u) << v.tag << " has two values at step " << e.step;
        out[{v.tag, e.step}] = v.value;
      }
    }
  }
  return out;
}

const char* kRun =
    "  max_steps: 8\n  batch_size: 4\n  gradient_accumulation_steps: 1\n  learning_rate: 5.0e-3\n"
    "  warmup_steps: 2\n  logging_steps: 1\n  eval_steps: 3\n  save_steps: 2\n  seed: 5\n";

}  // namespace

TEST(TensorBoardE2E, ResumedAndRewoundRunsHoldMetricsJsonlOncePerStep) {
  MLXFT_REQUIRE_TOKENIZER();
  mlxft::test::TempDir dir;
  const fs::path recipe = write_recipe(dir, "run", kRun);
  const auto stopped =
      mlxft::test::run_command("MLXFT_TEST_SIGTERM_AFTER_STEP=3 '" + mlxft::test::mlxft_binary().string() +
                               "' train --tensorboard --config " + recipe.string());
  ASSERT_EQ(stopped.exit_code, 143) << stopped.output;
  auto resumed = mlxft::test::run_mlxft("train --tensorboard --config " + recipe.string() + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(mlxft::event_files(dir / "run" / "tensorboard").size(), 2u);
  const Scalars want = expected(dir / "run");
  EXPECT_EQ(want.size(), 8u * 9u + 4u * 5u);  // 8 train lines, evaluations at steps 0, 3, 6, 8
  EXPECT_EQ(written(dir / "run"), want);

  // Back to the checkpoint of step 4: steps 5-8 are trained again and must not appear twice.
  auto rewound = mlxft::test::run_mlxft("train --tensorboard --config " + recipe.string() + " --resume " +
                                        (dir / "run" / "checkpoints" / "step-000004").string());
  ASSERT_EQ(rewound.exit_code, 0) << rewound.output;
  EXPECT_EQ(written(dir / "run"), expected(dir / "run"));
}
