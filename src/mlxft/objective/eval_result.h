// The result of evaluating a model on a set of examples: the one type for validation and test
// losses, shared by eval/evaluate.h (which computes it), the objectives (objective.h evaluate(),
// which pick the sets) and the trainer (which tracks it).
//
// Contract:
// - loss is token-weighted: the sum of every example's NLL sum over its trained tokens, divided by
//   the number of trained tokens in the whole set; perplexity = exp(loss).
// - per_example, when filled, lists every example in input order (by Example::index).
// - extra holds further named metrics of the same evaluation, logged as "eval/<name>": the tool-call
//   metrics (eval/tool_eval.h) and, for KTO runs, loss_desirable and loss_undesirable (the
//   token-weighted loss over each label's examples).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
  std::map<std::string, double> extra;
};

}  // namespace mlxft
