// KV-cached generation loop (see generate.h).
#include "mlxft/eval/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "mlxft/model/decode_step.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// float32 logits [B, 1, V] of the last position only: the LM head runs on one hidden state per row
// (a prompt's other positions would cost T times the head's work).
mx::array last_logits(const Model& model, const mx::array& tokens, const ForwardOptions& fwd,
                      KVCache& cache) {
  const mx::array h = forward_hidden(model, tokens, fwd, &cache);
  const int B = h.shape(0), T = h.shape(1), E = h.shape(2);
  return lm_head(model, mx::slice(h, {0, T - 1, 0}, {B, T, E}));
}

void check_prompt(const Model& model, const std::vector<int32_t>& prompt) {
  const ModelConfig& c = model.config;
  if (prompt.empty()) throw Error(ErrorKind::Usage, "--prompt", "the prompt has no tokens");
  for (int32_t id : prompt) {
    if (id < 0 || id >= c.vocab_size) {
      throw Error(ErrorKind::Model, model.dir.string(),
                  "prompt token id " + std::to_string(id) + " is outside the model's vocab of " +
                      std::to_string(c.vocab_size),
                  "the tokenizer does not belong to this model");
    }
  }
  if (static_cast<int>(prompt.size()) >= c.max_position_embeddings) {
    throw Error(ErrorKind::Usage, "--prompt",
                "the prompt has " + std::to_string(prompt.size()) + " tokens; the model's context is " +
                    std::to_string(c.max_position_embeddings));
  }
}

bool is_stop(const Model& model, const GenerateOptions& options, int32_t token) {
  if (options.ignore_eos) return false;
  return token == model.config.eos_token_id ||
         std::find(options.stop_ids.begin(), options.stop_ids.end(), token) != options.stop_ids.end();
}

// The next token of each row from the last position's logits [n, 1, V]: greedy as one argmax, else
// each row with its own key (keys[rows[r]]).
std::vector<int32_t> next_tokens(const mx::array& logits, const GenerateOptions& options,
                                 const std::vector<mx::array>& keys, const std::vector<size_t>& rows) {
  const int n = logits.shape(0), T = logits.shape(1), V = logits.shape(2);
  const mx::array last = mx::reshape(mx::slice(logits, {0, T - 1, 0}, {n, T, V}), {n, V});
  mx::array chosen(0);
  if (options.sampling.temperature <= 0.0f) {
    chosen = mx::astype(mx::argmax(last, -1), mx::int32);
  } else {
    std::vector<mx::array> picks;
    for (int r = 0; r < n; ++r) {
      const mx::array row = mx::reshape(mx::slice(last, {r, 0}, {r + 1, V}), {V});
      picks.push_back(sample_token(row, options.sampling, keys[rows[static_cast<size_t>(r)]]));
    }
    chosen = mx::astype(mx::stack(picks), mx::int32);
  }
  mx::eval(chosen);
  return {chosen.data<int32_t>(), chosen.data<int32_t>() + n};
}

// Applies each row's constraint (constraints[rows[r]], when set) to its chosen token and advances it.
void constrain(std::vector<int32_t>& tokens, const mx::array& logits,
               std::vector<std::unique_ptr<TokenConstraint>>& constraints, const std::vector<size_t>& rows) {
  if (constraints.empty()) return;
  const int n = logits.shape(0), T = logits.shape(1), V = logits.shape(2);
  for (int r = 0; r < n; ++r) {
    TokenConstraint* c = constraints[rows[static_cast<size_t>(r)]].get();
    if (c == nullptr) continue;
    int32_t& token = tokens[static_cast<size_t>(r)];
    if (!c->allows(token)) {
      mx::array row = mx::contiguous(
          mx::astype(mx::reshape(mx::slice(logits, {r, T - 1, 0}, {r + 1, T, V}), {V}), mx::float32));
      mx::eval(row);
      token = constrained_choice(*c, row.data<float>(), static_cast<size_t>(V), token);
    }
    c->accept(token);
  }
}

std::vector<std::unique_ptr<TokenConstraint>> make_constraints(const GenerateOptions& options, size_t n) {
  std::vector<std::unique_ptr<TokenConstraint>> out;
  if (!options.constraint) return out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(options.constraint());
    out.back()->set_budget(options.max_tokens);
  }
  return out;
}

// Takes the longest common prefix of prompt and reuse.ids (at most all but the prompt's last token)
// from reuse.cache into cache; returns its length.
int reuse_prefix(const PromptCache& reuse, const std::vector<int32_t>& prompt, KVCache& cache) {
  const size_t most = std::min(reuse.ids.size(), prompt.size() - 1);
  size_t n = 0;
  while (n < most && reuse.ids[n] == prompt[n]) ++n;
  if (n == 0 || reuse.cache.keys.empty()) return 0;
  const int len = static_cast<int>(n);
  for (size_t l = 0; l < reuse.cache.keys.size(); ++l) {
    const mx::array& k = reuse.cache.keys[l];
    const mx::array& v = reuse.cache.values[l];
    cache.keys.push_back(mx::slice(k, {0, 0, 0, 0}, {k.shape(0), k.shape(1), len, k.shape(3)}));
    cache.values.push_back(mx::slice(v, {0, 0, 0, 0}, {v.shape(0), v.shape(1), len, v.shape(3)}));
  }
  cache.offset = len;
  return len;
}

// Keeps the batch rows `keep` of the cache (indices into the current batch).
void keep_rows(KVCache& cache, const std::vector<int32_t>& keep) {
  const mx::array idx(keep.data(), {static_cast<int>(keep.size())}, mx::int32);
  for (auto& k : cache.keys) k = mx::take(k, idx, 0);
  for (auto& v : cache.values) v = mx::take(v, idx, 0);
  std::vector<int> pad;
  for (int32_t r : keep) pad.push_back(cache.left_pad[static_cast<size_t>(r)]);
  cache.left_pad = std::move(pad);
}

// Left-pads the prompts into one [B, longest] id block; cache.left_pad gets each row's padding.
mx::array padded_batch(const std::vector<std::vector<int32_t>>& prompts, KVCache& cache) {
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  std::vector<int32_t> ids(prompts.size() * longest, 0);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const size_t pad = longest - prompts[b].size();
    std::copy(prompts[b].begin(), prompts[b].end(),
              ids.begin() + static_cast<std::ptrdiff_t>(b * longest + pad));
    cache.left_pad.push_back(static_cast<int>(pad));
  }
  return mx::array(ids.data(), {static_cast<int>(prompts.size()), static_cast<int>(longest)}, mx::int32);
}

}  // namespace

std::vector<std::vector<int32_t>> generate_batch(const Model& model,
                                                 const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& options) {
  std::vector<std::vector<int32_t>> out(prompts.size());
  if (prompts.empty()) return out;
  for (const auto& p : prompts) check_prompt(model, p);
  KVCache cache;
  const mx::array ids = padded_batch(prompts, cache);
  std::vector<mx::array> keys;  // one per prompt
  mx::array key = mx::random::key(options.seed);
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto [row_key, rest] = mx::random::split(key);
    keys.push_back(row_key);
    key = rest;
  }
  ForwardOptions fwd;
  fwd.lora = options.lora;
  std::vector<size_t> rows(prompts.size());  // batch row -> prompt
  for (size_t b = 0; b < rows.size(); ++b) rows[b] = b;
  mx::array logits = last_logits(model, ids, fwd, cache);
  auto constraints = make_constraints(options, prompts.size());
  // On the CPU the steps after the prompts run on plain buffers (model/decode_step.h) where it can.
  std::unique_ptr<DecodeStep> native = DecodeStep::make(model, options.lora);
  if (native) {
    mx::eval(logits);
    native->start(cache);
  }
  int offset = cache.offset;
  while (true) {
    std::vector<int32_t> tokens = next_tokens(logits, options, keys, rows);
    constrain(tokens, logits, constraints, rows);
    std::vector<int32_t> keep, fed;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (is_stop(model, options, tokens[r])) continue;
      auto& o = out[rows[r]];
      o.push_back(tokens[r]);
      if (static_cast<int>(o.size()) >= options.max_tokens) continue;
      keep.push_back(static_cast<int32_t>(r));
      fed.push_back(tokens[r]);
    }
    if (keep.empty() || offset >= model.config.max_position_embeddings) break;
    if (keep.size() < rows.size()) {
      if (native) native->keep(keep);
      else keep_rows(cache, keep);
      std::vector<size_t> kept;
      for (int32_t r : keep) kept.push_back(rows[static_cast<size_t>(r)]);
      rows = std::move(kept);
    }
    if (options.sampling.temperature > 0.0f)  // a fresh key per row and step
      for (size_t r : rows) keys[r] = mx::random::split(keys[r]).second;
    const int n = static_cast<int>(fed.size());
    if (native) {
      logits = mx::array(native->step(fed), {n, 1, native->vocab_size()}, mx::float32);
    } else {
      logits = last_logits(model, mx::array(fed.data(), {n, 1}, mx::int32), fwd, cache);
    }
    ++offset;
  }
  return out;
}

namespace {

// What the decoding loops share: the step's sampling key and the constraint.
struct Decoding {
  const Model& model;
  const GenerateOptions& options;
  const std::function<void(int32_t)>& on_token;
  GenerateStats& st;
  mx::array key;
  std::vector<std::unique_ptr<TokenConstraint>> constraints;

  mx::array sample(const mx::array& logits) {  // lazy: the token of the next key
    auto [step_key, rest] = mx::random::split(key);
    key = rest;
    return sample_token(mx::reshape(logits, {-1}), options.sampling, step_key);
  }
  int32_t pick(const mx::array& logits) {  // the token's value, through the constraint
    const mx::array token = sample(logits);
    mx::eval(token);
    std::vector<int32_t> picked{token.item<int32_t>()};
    constrain(picked, logits, constraints, {0});
    return picked[0];
  }
  // The same from float32 logits [V] on the host.
  int32_t pick(const float* logits, size_t V) {
    int32_t token = 0;
    if (options.sampling.temperature <= 0.0f) {
      token = static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
    } else {
      const mx::array t = sample(mx::array(logits, {static_cast<int>(V)}, mx::float32));
      mx::eval(t);
      token = t.item<int32_t>();
    }
    if (!constraints.empty()) {
      TokenConstraint& k = *constraints[0];
      if (!k.allows(token)) token = constrained_choice(k, logits, V, token);
      k.accept(token);
    }
    return token;
  }
  // Emits token unless it stops the run; false when the run is over (a stop, or max_tokens reached).
  bool emit(int32_t token, std::vector<int32_t>& out) {
    if (is_stop(model, options, token)) {
      st.stopped_at_eos = true;
      return false;
    }
    out.push_back(token);
    if (on_token) on_token(token);
    return static_cast<int>(out.size()) < options.max_tokens;
  }
};

// The steps after the prompt on plain buffers (model/decode_step.h), one at a time.
void decode_native(Decoding& d, DecodeStep& native, const mx::array& first_logits, const KVCache& cache,
                   std::vector<int32_t>& out) {
  int32_t token = d.pick(first_logits);
  native.start(cache);
  const auto t0 = std::chrono::steady_clock::now();
  const auto V = static_cast<size_t>(native.vocab_size());
  while (d.emit(token, out) && native.offset() < d.model.config.max_position_embeddings) {
    token = d.pick(native.step({token}), V);
    ++d.st.decode_steps;
  }
  d.st.generate_seconds = seconds_since(t0);
}

// The steps after the prompt through forward(). Without a constraint they overlap (as mlx-lm decodes):
// step t+1's graph is built on step t's lazy token and queued (async_eval) before t's value is read, so
// building graphs hides behind the computing (what keeps a GPU busy); a step queued past the last token
// is dropped. A constraint must see each token before the next step is built: step by step.
void decode_forward(Decoding& d, const mx::array& first_logits, KVCache& cache, const ForwardOptions& fwd,
                    std::vector<int32_t>& out) {
  const ModelConfig& c = d.model.config;
  auto feed = [&](const mx::array& token) {
    return last_logits(d.model, mx::reshape(mx::astype(token, mx::int32), {1, 1}), fwd, cache);
  };
  const bool overlap = d.constraints.empty();
  std::optional<mx::array> current, queued;
  // Steps still computing when this returns or throws (one queued past a stop token) must finish
  // before their arrays go: MLX's CPU stream would write into freed buffers.
  struct Drain {
    std::optional<mx::array>&a, &b;
    ~Drain() {
      try {
        if (a) mx::eval(*a);
        if (b) mx::eval(*b);
      } catch (...) {  // an error of the dropped step: nobody reads its token
      }
    }
  } drain{current, queued};
  auto queue_next = [&](size_t emitted) {  // the step after token emitted + 1, unless that token is the last
    queued.reset();
    if (cache.offset >= c.max_position_embeddings || static_cast<int>(emitted) + 1 >= d.options.max_tokens) return;
    queued = d.sample(feed(*current));
    mx::async_eval(*queued);
  };
  int32_t token = 0;
  if (overlap) {
    current = d.sample(first_logits);
    mx::async_eval(*current);
    queue_next(0);
    token = current->item<int32_t>();
  } else {
    token = d.pick(first_logits);
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (d.emit(token, out)) {
    const bool room = overlap ? queued.has_value() : cache.offset < c.max_position_embeddings;
    if (!room) break;
    if (overlap) {
      current = queued;
      queue_next(out.size());
      token = current->item<int32_t>();
    } else {
      token = d.pick(feed(mx::array(&token, {1}, mx::int32)));
    }
    ++d.st.decode_steps;
  }
  d.st.generate_seconds = seconds_since(t0);
}

}  // namespace

std::vector<int32_t> generate(const Model& model, const std::vector<int32_t>& prompt,
                              const GenerateOptions& options, const std::function<void(int32_t)>& on_token,
                              GenerateStats* stats, PromptCache* reuse) {
  check_prompt(model, prompt);
  const int prompt_len = static_cast<int>(prompt.size());
  GenerateStats local;
  GenerateStats& st = stats ? *stats : local;
  st = GenerateStats{};
  st.prompt_tokens = prompt_len;
  mx::reset_peak_memory();

  ForwardOptions fwd;
  fwd.lora = options.lora;
  KVCache cache;
  const int reused = reuse ? reuse_prefix(*reuse, prompt, cache) : 0;
  st.reused_tokens = reused;
  Decoding d{model, options, on_token, st, mx::random::key(options.seed), make_constraints(options, 1)};

  std::vector<int32_t> out;
  const auto t0 = std::chrono::steady_clock::now();
  const mx::array prompt_ids = mx::array(prompt.data() + reused, {1, prompt_len - reused}, mx::int32);
  const mx::array first_logits = last_logits(model, prompt_ids, fwd, cache);
  if (reuse) *reuse = PromptCache{cache, prompt};  // later appends make new arrays: this copy stays
  if (auto native = DecodeStep::make(model, options.lora)) {
    mx::eval(first_logits);
    st.prompt_seconds = seconds_since(t0);
    decode_native(d, *native, first_logits, cache, out);
  } else {
    decode_forward(d, first_logits, cache, fwd, out);
    st.prompt_seconds = seconds_since(t0) - st.generate_seconds;
  }
  st.generated_tokens = static_cast<int>(out.size());
  st.peak_memory_bytes = mx::get_peak_memory();
  return out;
}

std::vector<std::vector<int32_t>> generate_each(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                const GenerateOptions& options, PromptCache* reuse) {
  std::vector<std::vector<int32_t>> out(prompts.size());
  std::unique_ptr<DecodeStep> native = DecodeStep::make(model, options.lora);
  if (!native) {
    for (size_t i = 0; i < prompts.size(); ++i) out[i] = generate(model, prompts[i], options, {}, nullptr, reuse);
    return out;
  }
  const std::function<void(int32_t)> no_stream;
  std::vector<GenerateStats> stats(prompts.size());
  std::vector<Decoding> rows;  // per prompt: generate()'s key sequence and constraint
  std::vector<size_t> live;    // batch row -> prompt
  std::vector<int32_t> fed;
  ForwardOptions fwd;
  fwd.lora = options.lora;
  for (size_t i = 0; i < prompts.size(); ++i) {  // each prompt alone, from the cache of the one before
    const std::vector<int32_t>& prompt = prompts[i];
    check_prompt(model, prompt);
    KVCache cache;
    const int reused = reuse ? reuse_prefix(*reuse, prompt, cache) : 0;
    const int n = static_cast<int>(prompt.size()) - reused;
    const mx::array logits = last_logits(model, mx::array(prompt.data() + reused, {1, n}, mx::int32), fwd, cache);
    if (reuse) *reuse = PromptCache{cache, prompt};
    rows.push_back({model, options, no_stream, stats[i], mx::random::key(options.seed), make_constraints(options, 1)});
    const int32_t token = rows.back().pick(logits);
    if (rows.back().emit(token, out[i]) && cache.offset < model.config.max_position_embeddings) {
      native->add(cache);
      live.push_back(i);
      fed.push_back(token);
    }
  }
  const auto V = static_cast<size_t>(native->vocab_size());
  while (!live.empty()) {  // one step of every live row; a row that stops leaves
    const float* logits = native->step(fed);
    std::vector<int32_t> keep;
    std::vector<size_t> kept;
    std::vector<int32_t> next;
    for (size_t r = 0; r < live.size(); ++r) {
      const size_t i = live[r];
      const int32_t token = rows[i].pick(logits + r * V, V);
      const size_t positions = prompts[i].size() + out[i].size();  // cached after this step
      if (!rows[i].emit(token, out[i]) || positions >= static_cast<size_t>(model.config.max_position_embeddings)) continue;
      keep.push_back(static_cast<int32_t>(r));
      kept.push_back(i);
      next.push_back(token);
    }
    if (keep.size() < live.size()) native->keep(keep);
    live = std::move(kept);
    fed = std::move(next);
  }
  return out;
}

std::vector<int32_t> plain_prompt(const Tokenizer& tokenizer, const std::string& text) {
  std::vector<int32_t> ids;
  if (tokenizer.adds_bos()) ids.push_back(tokenizer.bos_id());
  const auto body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::vector<int32_t> chat_prompt(const ChatFormat& format, const std::string& text,
                                 const OrderedJson& tools) {
  Conversation conversation;
  conversation.tools = tools;
  Message user;
  user.role = Role::User;
  user.content = text;
  conversation.messages.push_back(std::move(user));
  return format.generation_prompt(conversation);
}

}  // namespace mlxft
