// Validation loss and perplexity of a model (with or without LoRA adapters) on
// rendered examples.
//
// Contract: evaluate() runs the forward pass (no dropout, no gradients) over
// `examples` in length-grouped batches of `batch_size` built by make_batch, and
// scores each example with token_nll (objective/loss.h), the training loss: nll_sum is
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
#include "mlxft/objective/eval_result.h"

namespace mlxft {

EvalResult evaluate(const Model& model, const LoraAdapters* adapters, const std::vector<Example>& examples,
                    int batch_size);

}  // namespace mlxft
