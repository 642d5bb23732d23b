// Validation loss and perplexity of a model (with or without LoRA adapters) on
// rendered examples.
//
// Contract: evaluate() runs the forward pass (no dropout, no gradients) over
// `examples` in length-grouped batches of `batch_size` built by make_batch, and
// scores each example with masked_cross_entropy, the training loss: nll_sum is
// the summed NLL over its trained tokens. The set's loss is token-weighted,
// sum of nll_sum / sum of tokens (so long examples count by their tokens, as in
// training), and perplexity = exp(loss). per_example lists every example in
// input order. Empty input or no trained token at all is a Data error.
#pragma once

#include <cstdint>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"

namespace mlxft {

struct ExampleLoss {
  int64_t index = 0;     // Example::index
  double nll_sum = 0.0;  // summed NLL over the example's trained tokens
  int64_t tokens = 0;    // its trained tokens
};

struct EvalResult {
  double loss = 0.0;  // sum of nll_sum / tokens
  double perplexity = 0.0;
  int64_t tokens = 0;  // trained tokens over the whole set
  std::vector<ExampleLoss> per_example;
};

EvalResult evaluate(const Model& model, const LoraAdapters* adapters, const std::vector<Example>& examples,
                    int batch_size);

}  // namespace mlxft
