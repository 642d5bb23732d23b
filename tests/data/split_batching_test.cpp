#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "mlxft/data/batching.h"
#include "mlxft/data/split.h"
#include "mlxft/util/error.h"

using namespace mlxft;

namespace {

// n examples; example i has label (i % 4 != 0), i.e. 75 % desirable, and length 3 + (i * 7) % 23.
std::vector<Example> make_examples(int n) {
  std::vector<Example> v;
  for (int i = 0; i < n; ++i) {
    Example e;
    e.index = i;
    e.label = (i % 4 != 0);
    const int len = 3 + (i * 7) % 23;
    for (int t = 0; t < len; ++t) {
      e.ids.push_back(100 + i * 10 + t);
      e.mask.push_back(t >= len / 2 ? 1 : 0);
    }
    v.push_back(e);
  }
  return v;
}

std::vector<int64_t> indices(const std::vector<Example>& v) {
  std::vector<int64_t> out;
  for (const auto& e : v) out.push_back(e.index);
  return out;
}

}  // namespace

TEST(Split, StratifiedByLabelCompleteAndDisjoint) {
  const auto s = split_dataset(make_examples(200), 0.1, 0.05, 42);
  EXPECT_EQ(s.train.size() + s.valid.size() + s.test.size(), 200u);
  auto count_true = [](const std::vector<Example>& v) {
    return std::count_if(v.begin(), v.end(), [](const Example& e) { return *e.label; });
  };
  EXPECT_EQ(s.valid.size(), 20u);
  EXPECT_EQ(count_true(s.valid), 15);  // round(150 * 0.1)
  EXPECT_EQ(s.test.size(), 11u);       // per label: round(150 * 0.05) + round(50 * 0.05) = 8 + 3
  std::set<int64_t> all;
  for (const auto* part : {&s.train, &s.valid, &s.test}) {
    EXPECT_TRUE(std::is_sorted(part->begin(), part->end(),
                               [](const Example& a, const Example& b) { return a.index < b.index; }));
    for (const auto& e : *part) EXPECT_TRUE(all.insert(e.index).second) << "index " << e.index << " twice";
  }
}

TEST(Split, SameSeedSameSplitOnEveryMachine) {
  const auto a = split_dataset(make_examples(50), 0.2, 0.0, 42);
  const auto b = split_dataset(make_examples(50), 0.2, 0.0, 42);
  EXPECT_EQ(indices(a.valid), indices(b.valid));
  EXPECT_NE(indices(a.valid), indices(split_dataset(make_examples(50), 0.2, 0.0, 43).valid));
  // A golden value: splitmix64 is defined bit for bit, so this holds on any platform.
  EXPECT_EQ(indices(a.valid), (std::vector<int64_t>{1, 11, 16, 23, 26, 28, 33, 46, 48, 49}));
}

TEST(Split, RejectsFractionsThatLeaveNoTraining) {
  EXPECT_THROW(split_dataset(make_examples(10), 0.6, 0.4, 1), Error);
  EXPECT_THROW(split_dataset(make_examples(10), -0.1, 0.0, 1), Error);
}

TEST(Batching, GroupsByLengthAndEveryExampleOncePerEpoch) {
  const auto ex = make_examples(37);
  const BatchPlan plan(ex, 4, 42);
  EXPECT_EQ(plan.num_batches(), 10u);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::multiset<size_t> seen;
    for (const auto& rows : plan.epoch_batches(epoch)) {
      int64_t lo = INT64_MAX, hi = 0;
      for (size_t r : rows) {
        seen.insert(r);
        lo = std::min<int64_t>(lo, static_cast<int64_t>(ex[r].ids.size()));
        hi = std::max<int64_t>(hi, static_cast<int64_t>(ex[r].ids.size()));
      }
      EXPECT_LE(hi - lo, 4) << "a batch mixes very different lengths";
    }
    EXPECT_EQ(seen.size(), 37u);
    EXPECT_EQ(std::set<size_t>(seen.begin(), seen.end()).size(), 37u);
  }
  EXPECT_LT(plan.padding_fraction(), 0.3);
}

TEST(Batching, OrderIsAFunctionOfSeedAndEpochSoItCanBeRestored) {
  const auto ex = make_examples(40);
  const BatchPlan a(ex, 2, 7), b(ex, 2, 7), c(ex, 2, 8);
  EXPECT_EQ(a.epoch_batches(3), b.epoch_batches(3));  // a resumed run sees the same order
  EXPECT_NE(a.epoch_batches(0), a.epoch_batches(1));  // reshuffled each epoch
  EXPECT_NE(a.epoch_batches(0), c.epoch_batches(0));
}

TEST(Batching, MakeBatchShiftsTargetsAlignsMaskAndPadsToMultipleOf8) {
  const auto ex = make_examples(3);  // lengths 3, 10, 17
  const auto batch = make_batch(ex, {0, 2}, 8, -1);
  ASSERT_EQ(batch.inputs.shape(), (mlx::core::Shape{2, 16}));
  const auto in = batch.inputs;
  const auto tg = batch.targets;
  const auto mk = batch.mask;
  const int32_t* inputs = in.data<int32_t>();
  const int32_t* targets = tg.data<int32_t>();
  const float* mask = mk.data<float>();
  const auto& e = ex[2];
  int64_t trained = 0;
  for (int t = 0; t < 16; ++t) {
    EXPECT_EQ(inputs[16 + t], e.ids[static_cast<size_t>(t)]);
    EXPECT_EQ(targets[16 + t], e.ids[static_cast<size_t>(t + 1)]);
    EXPECT_EQ(mask[16 + t], e.mask[static_cast<size_t>(t + 1)] ? 1.0f : 0.0f);
  }
  for (int t = 2; t < 16; ++t) {  // row 0 has 2 real positions, then padding
    EXPECT_EQ(inputs[t], -1);
    EXPECT_EQ(targets[t], -1);
    EXPECT_EQ(mask[t], 0.0f);
  }
  for (int i = 0; i < 32; ++i) trained += mask[i] != 0.0f;
  EXPECT_EQ(batch.trained_tokens, trained);
  EXPECT_EQ(batch.padded_tokens, 32);
  EXPECT_EQ(batch.example_indices, (std::vector<int64_t>{0, 2}));
  EXPECT_THROW(make_batch(ex, {5}), Error);
}
