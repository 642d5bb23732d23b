// Deterministic train / validation / test split, stratified by label.
//
// Contract: examples are grouped by label (true, false, none); each group is
// shuffled with the project's own PRNG (prng.h) seeded by `seed`, and the
// first round(n * valid_fraction) go to valid, the next round(n *
// test_fraction) to test, the rest to train. Each part is returned in input
// order (by Example::index). The same inputs and seed give the same split on
// every machine and standard library.
#pragma once

#include <cstdint>
#include <vector>

#include "mlxft/data/example.h"

namespace mlxft {

struct Split {
  std::vector<Example> train, valid, test;
};

// Throws mlxft::Error (Config) when a fraction is outside [0, 1) or they sum to 1 or more.
Split split_dataset(std::vector<Example> examples, double valid_fraction, double test_fraction,
                    uint64_t seed);

}  // namespace mlxft
