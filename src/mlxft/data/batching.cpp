#include "mlxft/data/batching.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "mlxft/util/prng.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

namespace {

int64_t round_up(int64_t n, int64_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

}  // namespace

BatchPlan::BatchPlan(const std::vector<Example>& examples, int batch_size, uint64_t seed) : seed_(seed) {
  if (batch_size < 1) {
    throw Error(ErrorKind::Config, "training.batch_size",
                "must be at least 1, got " + std::to_string(batch_size));
  }
  if (examples.empty()) {
    throw Error(ErrorKind::Data, "dataset", "no examples to batch",
                "check the data file and the label filter");
  }
  lengths_.reserve(examples.size());
  for (const auto& ex : examples) lengths_.push_back(static_cast<int64_t>(ex.ids.size()));
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths_[a] < lengths_[b]; });
  const auto bs = static_cast<size_t>(batch_size);
  for (size_t start = 0; start < order.size(); start += bs) {
    const size_t end = std::min(order.size(), start + bs);
    batches_.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                          order.begin() + static_cast<std::ptrdiff_t>(end));
  }
}

std::vector<std::vector<size_t>> BatchPlan::epoch_batches(int epoch) const {
  std::vector<size_t> perm(batches_.size());
  std::iota(perm.begin(), perm.end(), size_t{0});
  seeded_shuffle(perm, mix_seed(seed_, static_cast<uint64_t>(epoch)));
  std::vector<std::vector<size_t>> out;
  out.reserve(perm.size());
  for (size_t p : perm) out.push_back(batches_[p]);
  return out;
}

double BatchPlan::padding_fraction(int pad_multiple) const {
  int64_t real = 0, padded = 0;
  for (const auto& rows : batches_) {
    int64_t longest = 0;
    for (size_t r : rows) {
      real += std::max<int64_t>(lengths_[r] - 1, 0);
      longest = std::max(longest, lengths_[r] - 1);
    }
    padded += round_up(longest, pad_multiple) * static_cast<int64_t>(rows.size());
  }
  return padded == 0 ? 0.0 : 1.0 - static_cast<double>(real) / static_cast<double>(padded);
}

Batch make_batch(const std::vector<Example>& examples, const std::vector<size_t>& rows, int pad_multiple,
                 int32_t pad_id) {
  if (rows.empty()) throw Error(ErrorKind::Config, "batch", "a batch needs at least one row");
  if (pad_multiple < 1) pad_multiple = 1;
  int64_t longest = 0;
  for (size_t r : rows) {
    if (r >= examples.size()) {
      throw Error(
          ErrorKind::Config, "batch",
          "row " + std::to_string(r) + " is past the " + std::to_string(examples.size()) + " examples");
    }
    const auto n = static_cast<int64_t>(examples[r].ids.size());
    if (n < 2) {
      throw Error(ErrorKind::Data, "example " + std::to_string(examples[r].index),
                  "has fewer than 2 tokens: nothing to predict");
    }
    longest = std::max(longest, n - 1);
  }
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t T = round_up(longest, pad_multiple);
  std::vector<int32_t> inputs(static_cast<size_t>(B * T), pad_id),
      targets(static_cast<size_t>(B * T), pad_id);
  std::vector<float> mask(static_cast<size_t>(B * T), 0.0f);
  Batch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& ex = examples[rows[static_cast<size_t>(b)]];
    const auto n = static_cast<int64_t>(ex.ids.size()) - 1;
    for (int64_t t = 0; t < n; ++t) {
      const auto at = static_cast<size_t>(b * T + t);
      inputs[at] = ex.ids[static_cast<size_t>(t)];
      targets[at] = ex.ids[static_cast<size_t>(t + 1)];
      mask[at] = ex.mask[static_cast<size_t>(t + 1)] ? 1.0f : 0.0f;
      batch.trained_tokens += ex.mask[static_cast<size_t>(t + 1)] ? 1 : 0;
    }
    batch.example_indices.push_back(ex.index);
  }
  const mx::Shape shape{static_cast<int>(B), static_cast<int>(T)};
  batch.inputs = mx::array(inputs.begin(), shape, mx::int32);
  batch.targets = mx::array(targets.begin(), shape, mx::int32);
  batch.mask = mx::array(mask.begin(), shape, mx::float32);
  batch.padded_tokens = B * T;
  return batch;
}

}  // namespace mlxft
