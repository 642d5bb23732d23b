// Text generation with a KV cache.
//
// Contract: generate() feeds the prompt ids in one forward pass, then one
// token per step through the KV cache, choosing each token with
// sample_token() (greedy at temperature 0; seeded top-p otherwise: the same
// seed gives the same tokens). It stops after max_tokens, at the model's EOS id
// or one of options.stop_ids (neither returned nor passed to on_token), or at
// max_position_embeddings. Each new id goes to on_token as soon as it is known
// (for streaming). Prompt ids outside the model's vocab are a Model error.
// chat_prompt() (through a chat format, chat/chat_format.h) and plain_prompt()
// build the prompt ids the CLI feeds.
// With options.constraint set, each sequence gets its own TokenConstraint (eval/call_constraint.h):
// a chosen token the constraint does not allow is replaced by the allowed token with the highest
// logit (greedy or sampled alike), and every emitted token advances the constraint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlxft/chat/chat_format.h"
#include "mlxft/eval/call_constraint.h"
#include "mlxft/eval/sampling.h"
#include "mlxft/model/llama.h"
#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

struct GenerateOptions {
  int max_tokens = 256;
  SamplingOptions sampling;
  uint64_t seed = 0;
  const LoraAdapters* lora = nullptr;
  std::vector<int32_t> stop_ids;  // besides the model's EOS (a chat format's stop_ids())
  bool ignore_eos = false;        // never stop at EOS or a stop id: always max_tokens (benchmarks)
  std::function<std::unique_ptr<TokenConstraint>()> constraint;  // null: unconstrained
};

// The KV cache of one prompt, kept between generate() calls: a later prompt that starts with the same
// tokens (a conversation's next turn, or any prompt after the same tool catalogue) computes only the
// positions after their longest common prefix.
struct PromptCache {
  KVCache cache;             // batch 1, the positions of ids
  std::vector<int32_t> ids;  // the prompt whose positions cache holds
};

struct GenerateStats {
  int prompt_tokens = 0;
  int reused_tokens = 0;          // prompt positions taken from a PromptCache
  int generated_tokens = 0;       // EOS excluded
  double prompt_seconds = 0.0;    // the prompt's forward pass and the first token
  double generate_seconds = 0.0;  // every later step
  int decode_steps = 0;           // one-token forward passes in generate_seconds
  size_t peak_memory_bytes = 0;   // mx::get_peak_memory() after the run
  bool stopped_at_eos = false;
};

// With reuse set, the prompt's longest common prefix with reuse->ids (all but its last token at
// most) comes from reuse->cache, and reuse then holds this prompt's cache: the tokens are those of a
// run without reuse, up to float rounding in the split prompt pass.
std::vector<int32_t> generate(const Model& model, const std::vector<int32_t>& prompt,
                              const GenerateOptions& options,
                              const std::function<void(int32_t)>& on_token = {},
                              GenerateStats* stats = nullptr, PromptCache* reuse = nullptr);

// Several prompts at once: left-padded into one batch (KVCache::left_pad), one forward pass per step
// for every row still generating; a row that stops leaves the batch. Row i of the result is what
// generate(model, prompts[i], options) returns, up to float rounding in the batched matmuls (greedy
// picks can differ only where two logits tie within that rounding). Rows sample with keys split from
// options.seed (row i: the i-th key), so sampled text differs from generate()'s.
std::vector<std::vector<int32_t>> generate_batch(const Model& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& options);

// Several prompts, each fed alone (reusing `reuse` as generate() does: the prompt before it shares its
// prefix, e.g. a conversation's earlier turns), then decoded together, one step for every row still
// generating (model/decode_step.h; rows leave as they stop). Row i is exactly what generate(model,
// prompts[i], options, ..., reuse) returns in turn (its keys, constraint and stops are its own, and a row's
// logits do not depend on the others). Where the model has no graph-free step, it is that loop.
std::vector<std::vector<int32_t>> generate_each(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                const GenerateOptions& options, PromptCache* reuse = nullptr);

// BOS (when tokenizer.adds_bos()) + encode(text).
std::vector<int32_t> plain_prompt(const Tokenizer& tokenizer, const std::string& text);
// One user turn in `format`, ready for the assistant's answer (Mistral v3: BOS [INST] encode(text) [/INST]).
// tools: the catalogue offered with it ([] for none).
std::vector<int32_t> chat_prompt(const ChatFormat& format, const std::string& text,
                                 const OrderedJson& tools = OrderedJson::array());

}  // namespace mlxft
