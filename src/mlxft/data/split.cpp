#include "mlxft/data/split.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "mlxft/util/prng.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

void check_fraction(double f, const char* key) {
  if (!(f >= 0.0 && f < 1.0)) {
    throw Error(ErrorKind::Config, key, "must be in [0, 1), got " + std::to_string(f));
  }
}

void sort_by_index(std::vector<Example>& v) {
  std::sort(v.begin(), v.end(), [](const Example& a, const Example& b) { return a.index < b.index; });
}

}  // namespace

Split split_dataset(std::vector<Example> examples, double valid_fraction, double test_fraction,
                    uint64_t seed) {
  check_fraction(valid_fraction, "data.valid_fraction");
  check_fraction(test_fraction, "data.test_fraction");
  if (valid_fraction + test_fraction >= 1.0) {
    throw Error(ErrorKind::Config, "data.valid_fraction + data.test_fraction",
                "leave no training data (sum is " + std::to_string(valid_fraction + test_fraction) + ")",
                "keep the sum below 1, e.g. 0.1 and 0.0");
  }
  // Groups: label true, false, none; each shuffled with its own stream of the seed.
  std::array<std::vector<Example>, 3> groups;
  for (auto& ex : examples) {
    const size_t g = !ex.label ? 2 : (*ex.label ? 0 : 1);
    groups[g].push_back(std::move(ex));
  }
  Split out;
  for (size_t g = 0; g < groups.size(); ++g) {
    auto& group = groups[g];
    sort_by_index(group);
    seeded_shuffle(group, mix_seed(seed, g));
    const auto n = static_cast<double>(group.size());
    const auto n_valid = static_cast<size_t>(std::llround(n * valid_fraction));
    const auto n_test =
        std::min(group.size() - n_valid, static_cast<size_t>(std::llround(n * test_fraction)));
    for (size_t i = 0; i < group.size(); ++i) {
      auto& dst = i < n_valid ? out.valid : (i < n_valid + n_test ? out.test : out.train);
      dst.push_back(std::move(group[i]));
    }
  }
  sort_by_index(out.train);
  sort_by_index(out.valid);
  sort_by_index(out.test);
  return out;
}

}  // namespace mlxft
