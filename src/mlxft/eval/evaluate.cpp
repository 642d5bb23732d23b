#include "mlxft/eval/evaluate.h"

#include <algorithm>
#include <cmath>

#include "mlxft/data/batching.h"
#include "mlxft/objective/loss.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// Per row of the batch: its NLL sum and trained-token count, interleaved (token_nll: the fused LM head +
// cross-entropy where its kernel runs, no [B, T, V] logits).
std::vector<mx::array> row_sums(const Model& model, const mx::array& hidden, const Batch& batch) {
  const int B = batch.inputs.shape(0);
  const mx::array m = mx::astype(batch.mask, mx::float32);
  const mx::array nll = token_nll(model, hidden, batch, {.training = false});
  const mx::array nll_rows = mx::sum(mx::multiply(nll, m), 1), token_rows = mx::sum(m, 1);
  std::vector<mx::array> sums;
  for (int b = 0; b < B; ++b) {
    sums.push_back(mx::reshape(mx::slice(nll_rows, {b}, {b + 1}), {}));
    sums.push_back(mx::reshape(mx::slice(token_rows, {b}, {b + 1}), {}));
  }
  return sums;
}

}  // namespace

EvalResult evaluate(const Model& model, const LoraAdapters* adapters, const std::vector<Example>& examples,
                    int batch_size) {
  if (examples.empty()) throw Error(ErrorKind::Data, "evaluation", "there are no examples to evaluate");
  ForwardOptions options;
  options.lora = adapters;

  EvalResult result;
  result.per_example.reserve(examples.size());
  // Length-grouped batches keep padding low; the order of batches does not change any sum.
  const BatchPlan plan(examples, batch_size, /*seed=*/0);
  for (const auto& rows : plan.epoch_batches(0)) {
    const Batch batch = make_batch(examples, rows);
    const std::vector<mx::array> sums = row_sums(model, forward_hidden(model, batch.inputs, options), batch);
    mx::eval(sums);
    for (size_t b = 0; b < rows.size(); ++b) {
      result.per_example.push_back(ExampleLoss{examples[rows[b]].index, sums[2 * b].item<float>(),
                                               std::llround(sums[2 * b + 1].item<float>())});
    }
  }
  std::sort(result.per_example.begin(), result.per_example.end(),
            [](const ExampleLoss& x, const ExampleLoss& y) { return x.index < y.index; });

  double nll = 0.0;
  for (const auto& e : result.per_example) {
    nll += e.nll_sum;
    result.tokens += e.tokens;
  }
  if (result.tokens == 0) {
    throw Error(ErrorKind::Data, "evaluation",
                "no example has a trained token, so there is no loss to report",
                "check the loss-mask options (--labels, the data's assistant turns)");
  }
  result.loss = nll / static_cast<double>(result.tokens);
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace mlxft
