// Length-grouped batches with a restorable, seeded order.
//
// Contract: BatchPlan sorts the examples by token length (ties by position),
// cuts them into batches of batch_size consecutive examples (the last one may
// be smaller), and for each epoch returns those batches in an order shuffled
// by (seed, epoch) with the project's PRNG. epoch_batches() is a pure
// function of (examples' lengths, batch_size, seed, epoch): a trainer resumes
// exactly by storing (epoch, index of the next batch). make_batch() builds
// the model tensors (example.h): inputs ids[0..T-2], targets ids[1..T-1],
// mask[1..T-1], right-padded with pad_id to a multiple of pad_multiple.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlxft/data/example.h"

namespace mlxft {

class BatchPlan {
 public:
  // Throws mlxft::Error (Config) if batch_size < 1 or examples is empty.
  BatchPlan(const std::vector<Example>& examples, int batch_size, uint64_t seed);

  // Rows index into the examples given to the constructor.
  std::vector<std::vector<size_t>> epoch_batches(int epoch) const;
  size_t num_batches() const { return batches_.size(); }
  // Padded target positions / all target positions, over one epoch, with pad_multiple 8.
  double padding_fraction(int pad_multiple = 8) const;

 private:
  std::vector<std::vector<size_t>> batches_;  // length-sorted groups
  std::vector<int64_t> lengths_;              // token length of each example
  uint64_t seed_;
};

// Throws mlxft::Error (Config) for an empty row list, a row out of range or an example shorter than 2 tokens.
Batch make_batch(const std::vector<Example>& examples, const std::vector<size_t>& rows, int pad_multiple = 8,
                 int32_t pad_id = 0);

}  // namespace mlxft
