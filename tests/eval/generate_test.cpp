// Generation: KV-cached greedy decoding equals recomputing the whole sequence
// each step; seeded sampling is reproducible; top-p keeps the nucleus;
// streaming text equals the full decode and never splits a UTF-8 character;
// the chat prompt is BOS [INST] text [/INST] as ids; a left-padded batch of prompts generates what
// each prompt generates alone.
#include "mlxft/eval/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "mlxft/chat/mistral_v3.h"
#include "mlxft/eval/sampling.h"
#include "mlxft/eval/text_stream.h"
#include "mlxft/model/init.h"
#include "mlxft/tokenizer/bpe_tokenizer.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

Model tiny_model(uint64_t seed) {
  Model m;
  m.config = preset_config("tiny", 512);
  m.config.eos_token_id = 511;
  m.weights = random_weights(m.config, seed, mx::float32);
  // Larger weights than the 0.02 init, so the logits are far from uniform and greedy is not a tie-fest.
  for (auto& [name, w] : m.weights) {
    if (w.ndim() == 2) w = mx::multiply(w, mx::array(25.0f));
  }
  return m;
}

// Greedy decoding without a cache: the whole sequence through forward() at every step.
std::vector<int32_t> greedy_recompute(const Model& m, std::vector<int32_t> seq, int steps) {
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    const mx::array logits = forward(m, mx::array(seq.data(), {1, static_cast<int>(seq.size())}, mx::int32));
    const int T = logits.shape(1);
    const int32_t next =
        mx::argmax(mx::slice(logits, {0, T - 1, 0}, {1, T, logits.shape(2)})).item<uint32_t>();
    if (next == m.config.eos_token_id) break;
    out.push_back(next);
    seq.push_back(next);
  }
  return out;
}

TEST(Generate, GreedyWithKvCacheEqualsFullRecompute) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const Model m = tiny_model(seed);
    const std::vector<int32_t> prompt = {1, 17, 300, 42, 9, 250};
    GenerateOptions o;
    o.max_tokens = 20;
    std::vector<int32_t> streamed;
    GenerateStats stats;
    const auto cached = generate(
        m, prompt, o, [&](int32_t id) { streamed.push_back(id); }, &stats);
    EXPECT_EQ(cached, greedy_recompute(m, prompt, 20)) << "seed " << seed;
    EXPECT_EQ(streamed, cached);
    EXPECT_EQ(stats.prompt_tokens, 6);
    EXPECT_EQ(stats.generated_tokens, static_cast<int>(cached.size()));
    EXPECT_GT(stats.peak_memory_bytes, 0u);
    // Not a degenerate repetition of one token: the comparison exercises many positions.
    EXPECT_GT(std::set<int32_t>(cached.begin(), cached.end()).size(), 1u) << "seed " << seed;
  }
}

// A prompt that shares a prefix with the one before (a conversation's next turn, the same tool
// catalogue) generates from the reused KV cache exactly what it generates from scratch, and only its
// new positions are computed; a prompt that shares nothing reuses nothing.
TEST(Generate, ReusedPromptCacheGivesTheTokensOfAFreshRun) {
  const Model m = tiny_model(2);
  GenerateOptions o;
  o.max_tokens = 16;
  const std::vector<int32_t> catalogue = {1, 17, 300, 42, 9, 250, 33, 61};
  std::vector<int32_t> first = catalogue, second = catalogue, other = {1, 5, 6};
  first.insert(first.end(), {400, 12, 7});
  second.insert(second.end(), {400, 12, 7, 88, 120, 2, 5});  // the first prompt grown by a turn
  PromptCache cache;
  GenerateStats stats;
  EXPECT_EQ(generate(m, first, o, {}, &stats, &cache), generate(m, first, o));
  EXPECT_EQ(stats.reused_tokens, 0);
  EXPECT_EQ(cache.ids, first);
  EXPECT_EQ(generate(m, second, o, {}, &stats, &cache), generate(m, second, o));
  EXPECT_EQ(stats.reused_tokens, static_cast<int>(first.size()));
  // Back to a shorter prompt inside the cached one: all but its last token come from the cache.
  EXPECT_EQ(generate(m, first, o, {}, &stats, &cache), generate(m, first, o));
  EXPECT_EQ(stats.reused_tokens, static_cast<int>(first.size()) - 1);
  std::vector<int32_t> sibling = catalogue;  // the same catalogue, another conversation
  sibling.insert(sibling.end(), {99, 3, 250});
  EXPECT_EQ(generate(m, sibling, o, {}, &stats, &cache), generate(m, sibling, o));
  EXPECT_EQ(stats.reused_tokens, static_cast<int>(catalogue.size()));
  EXPECT_EQ(generate(m, other, o, {}, &stats, &cache), generate(m, other, o));
  EXPECT_EQ(stats.reused_tokens, 1);  // only BOS is shared
}

// Prompts of different lengths, left-padded into one batch, generate what each generates alone; rows
// that stop early (EOS, the token bound) leave the batch without disturbing the others.
TEST(Generate, BatchOfPromptsEqualsEachAlone) {
  const Model m = tiny_model(3);
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 17, 300, 42, 9, 250}, {1, 5}, {1, 88, 120, 7}, {1, 17, 300, 42, 9, 250, 33, 61, 2, 400, 12}, {3}};
  GenerateOptions o;
  o.max_tokens = 12;
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(generate(m, p, o));
  EXPECT_EQ(generate_batch(m, prompts, o), alone);
  // A stop id that ends some rows early (the third token of the first prompt's run).
  ASSERT_GE(alone[0].size(), 3u);
  o.stop_ids = {alone[0][2]};
  std::vector<std::vector<int32_t>> stopped;
  size_t shortened = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    stopped.push_back(generate(m, prompts[i], o));
    shortened += stopped.back().size() < alone[i].size() ? 1 : 0;
  }
  ASSERT_GE(shortened, 1u);
  ASSERT_LT(shortened, prompts.size()) << "every row stops: the test would not mix stopped and running rows";
  EXPECT_EQ(generate_batch(m, prompts, o), stopped);
  // The logits of a padded row equal the row alone (RoPE is relative; padding is masked).
  KVCache cache;
  cache.left_pad = {3, 0};
  const std::vector<int32_t> ids = {0, 0, 0, 1, 5, 6, 1, 9, 8, 7, 6, 5};
  const mx::array batched = forward(m, mx::array(ids.data(), {2, 6}, mx::int32), {}, &cache);
  const std::vector<int32_t> short_row = {1, 5, 6};
  const mx::array single = forward(m, mx::array(short_row.data(), {1, 3}, mx::int32));
  const mx::array tail = mx::slice(batched, {0, 3, 0}, {1, 6, batched.shape(2)});
  EXPECT_LT(mx::max(mx::abs(mx::subtract(tail, single))).item<float>(), 1e-3f);
}

// The same with MLX's own attention (masked scaled_dot_product_attention), where the CPU kernels are off.
TEST(Generate, BatchOfPromptsEqualsEachAloneWithMlxOps) {
  const char* before = std::getenv("MLXFT_KERNELS");
  const std::string saved = before ? before : "";
  setenv("MLXFT_KERNELS", "0", 1);
  const Model m = tiny_model(2);
  const std::vector<std::vector<int32_t>> prompts = {{1, 17, 300, 42, 9, 250}, {1, 5}, {1, 88, 120, 7}};
  GenerateOptions o;
  o.max_tokens = 10;
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(generate(m, p, o));
  const auto batched = generate_batch(m, prompts, o);
  if (before)
    setenv("MLXFT_KERNELS", saved.c_str(), 1);
  else
    unsetenv("MLXFT_KERNELS");
  EXPECT_EQ(batched, alone);
}

// Prompts fed one at a time (each reusing the cache of the one before) and decoded together give, row by
// row, what generate() gives for each in turn, greedy and sampled; rows stop at different steps.
TEST(Generate, EachPromptDecodedTogetherGivesTheTokensOfOneAtATime) {
  const Model m = tiny_model(4);
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 17, 300, 42}, {1, 17, 300, 42, 9, 250, 7}, {1, 5, 6}, {1, 5, 6, 7, 8}, {1, 99}};
  for (const float temperature : {0.0f, 1.1f}) {
    GenerateOptions o;
    o.max_tokens = 14;
    o.sampling = {temperature, 0.95f};
    o.seed = 3;
    PromptCache alone_cache;
    std::vector<std::vector<int32_t>> want;
    for (const auto& p : prompts) want.push_back(generate(m, p, o, {}, nullptr, &alone_cache));
    o.stop_ids = {want[1].at(3)};  // rows now stop at different steps
    want.clear();
    alone_cache = {};
    for (const auto& p : prompts) want.push_back(generate(m, p, o, {}, nullptr, &alone_cache));
    PromptCache together_cache;
    EXPECT_EQ(generate_each(m, prompts, o, &together_cache), want) << "temperature " << temperature;
    EXPECT_EQ(together_cache.ids, prompts.back());
    EXPECT_EQ(generate_each(m, prompts, o), want) << "without reuse";
    size_t lengths = 0;
    for (const auto& w : want) lengths += w.size() == static_cast<size_t>(o.max_tokens) ? 1 : 0;
    EXPECT_LT(lengths, prompts.size()) << "some row should stop early";
  }
}

// At the context length each row stops where generate() stops it.
TEST(Generate, EachPromptStopsAtTheContextLengthAsAlone) {
  Model m = tiny_model(1);
  m.config.max_position_embeddings = 10;
  const std::vector<std::vector<int32_t>> prompts = {{1, 17, 300, 42, 9, 250}, {1, 5, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  GenerateOptions o;
  o.max_tokens = 50;
  o.ignore_eos = true;
  std::vector<std::vector<int32_t>> want;
  for (const auto& p : prompts) want.push_back(generate(m, p, o));
  EXPECT_EQ(want[0].size(), 5u);
  EXPECT_EQ(want[2].size(), 2u);
  EXPECT_EQ(generate_each(m, prompts, o), want);
}

TEST(Generate, EmptyBatchAndSampledBatchesAreReproducible) {
  const Model m = tiny_model(2);
  GenerateOptions o;
  EXPECT_TRUE(generate_batch(m, {}, o).empty());
  o.max_tokens = 16;
  o.sampling = {1.5f, 1.0f};
  o.seed = 7;
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 6}, {1, 5, 6, 9, 10}};
  const auto a = generate_batch(m, prompts, o);
  EXPECT_EQ(a, generate_batch(m, prompts, o));
  EXPECT_NE(a[0], a[1]);
  EXPECT_THROW(generate_batch(m, {{1, 2}, {}}, o), Error);
}

TEST(Generate, StopsAtEosWithoutReturningIt) {
  Model m = tiny_model(1);
  const std::vector<int32_t> prompt = {1, 17, 300};
  GenerateOptions o;
  o.max_tokens = 10;
  const auto free_run = generate(m, prompt, o);
  ASSERT_GE(free_run.size(), 3u);
  m.config.eos_token_id = free_run[2];  // make the third token the end
  GenerateStats stats;
  const auto stopped = generate(m, prompt, o, {}, &stats);
  EXPECT_TRUE(stats.stopped_at_eos);
  EXPECT_EQ(stopped, std::vector<int32_t>(free_run.begin(), free_run.begin() + 2));
  o.ignore_eos = true;  // a speed measurement runs to max_tokens, EOS included as a token
  o.stop_ids = {free_run[0]};
  GenerateStats past;
  EXPECT_EQ(generate(m, prompt, o, {}, &past), free_run);
  EXPECT_FALSE(past.stopped_at_eos);
}

// A chat format's stop ids (its end-of-turn tokens) end generation like EOS does.
TEST(Generate, StopsAtAStopIdOfTheChatFormat) {
  const Model m = tiny_model(1);
  const std::vector<int32_t> prompt = {1, 17, 300};
  GenerateOptions o;
  o.max_tokens = 10;
  const auto free_run = generate(m, prompt, o);
  // The first position (after the first) whose token was not generated before it.
  size_t k = 1;
  while (k < free_run.size() && std::find(free_run.begin(), free_run.begin() + static_cast<long>(k),
                                          free_run[k]) != free_run.begin() + static_cast<long>(k))
    ++k;
  ASSERT_LT(k, free_run.size()) << "the free run repeats one token";
  o.stop_ids = {free_run[k]};
  GenerateStats stats;
  const auto stopped = generate(m, prompt, o, {}, &stats);
  EXPECT_TRUE(stats.stopped_at_eos);
  EXPECT_EQ(stopped, std::vector<int32_t>(free_run.begin(), free_run.begin() + static_cast<long>(k)));
}

TEST(Generate, SeededSamplingIsReproducibleAndSeedsDiffer) {
  const Model m = tiny_model(2);
  GenerateOptions o;
  o.max_tokens = 16;
  o.sampling = {1.5f, 1.0f};
  o.seed = 7;
  const auto a = generate(m, {1, 5, 6}, o);
  EXPECT_EQ(a, generate(m, {1, 5, 6}, o));
  o.seed = 8;
  EXPECT_NE(a, generate(m, {1, 5, 6}, o));
}

// Decoding overlaps its steps (the next step is queued on the lazy token): the sampled tokens are
// those of a plain loop that recomputes the sequence and draws each token with the next split key.
TEST(Generate, OverlappedSampledDecodingDrawsTheTokensOfAPlainLoop) {
  const Model m = tiny_model(3);
  GenerateOptions o;
  o.max_tokens = 12;
  o.sampling = {1.2f, 0.9f};
  o.seed = 11;
  o.ignore_eos = true;
  std::vector<int32_t> seq = {1, 5, 6, 200};
  const auto got = generate(m, seq, o);
  mx::array key = mx::random::key(o.seed);
  std::vector<int32_t> want;
  for (int i = 0; i < o.max_tokens; ++i) {
    const mx::array logits = forward(m, mx::array(seq.data(), {1, static_cast<int>(seq.size())}, mx::int32));
    const int T = logits.shape(1), V = logits.shape(2);
    auto [step_key, rest] = mx::random::split(key);
    key = rest;
    const mx::array row = mx::reshape(mx::slice(logits, {0, T - 1, 0}, {1, T, V}), {V});
    want.push_back(sample_token(row, o.sampling, step_key).item<int32_t>());
    seq.push_back(want.back());
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(std::set<int32_t>(want.begin(), want.end()).size(), 3u) << "sampling should vary the tokens";
}

// At the model's context length decoding stops where the step-by-step loop stopped: the last token
// that fits is returned, and no step is queued past the context.
TEST(Generate, StopsAtTheContextLengthAfterTheSameTokens) {
  Model m = tiny_model(1);
  m.config.max_position_embeddings = 10;
  const std::vector<int32_t> prompt = {1, 17, 300, 42, 9, 250};
  GenerateOptions o;
  o.max_tokens = 50;
  o.ignore_eos = true;
  GenerateStats stats;
  const auto got = generate(m, prompt, o, {}, &stats);
  ASSERT_EQ(got.size(), 5u) << "positions 6..9 are fed; the token after position 9 is the fifth";
  Model wide = m;
  wide.config.max_position_embeddings = 64;
  o.max_tokens = 5;
  EXPECT_EQ(got, generate(wide, prompt, o));
  EXPECT_EQ(stats.decode_steps, 4);
}

TEST(Sampling, TopPKeepsOnlyTheNucleus) {
  // probabilities 0.5, 0.3, 0.15, 0.05 for ids 2, 0, 3, 1.
  const mx::array logits = mx::log(mx::array({0.3f, 0.05f, 0.5f, 0.15f}));
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 400; ++i) {
    counts[static_cast<size_t>(
        sample_token(logits, {1.0f, 0.75f}, mx::random::key(static_cast<uint64_t>(i))).item<int32_t>())]++;
  }
  // Nucleus for 0.75: {2, 0} (0.5 + 0.3 >= 0.75); 3 and 1 are never drawn.
  EXPECT_EQ(counts[1] + counts[3], 0);
  EXPECT_GT(counts[0], 80);
  EXPECT_GT(counts[2], 160);
  // A tiny top_p is greedy; temperature 0 is argmax.
  EXPECT_EQ(sample_token(logits, {1.0f, 0.01f}, mx::random::key(1)).item<int32_t>(), 2);
  EXPECT_EQ(sample_token(logits, {0.0f, 1.0f}, mx::random::key(1)).item<int32_t>(), 2);
}

TEST(TextStream, StreamedTextEqualsDecodeAndKeepsCharactersWhole) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const std::string text = "Grüße, 世界! 🙂 Ωmega\nnext line \xF0\x9F\xA6\x99";
  const auto ids = tok.encode(text);
  TextStream stream(tok);
  std::string all;
  int held_back = 0;
  for (int32_t id : ids) {
    const std::string piece = stream.push(id);
    if (piece.empty()) ++held_back;
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << "split character after id " << id;
    all += piece;
  }
  EXPECT_EQ(all, tok.decode(ids));
  EXPECT_EQ(all, text);
  EXPECT_GT(held_back, 0);  // the emoji go through byte-fallback pieces
}

TEST(Generate, PromptsAreBuiltAsIds) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  const auto body = tok.encode("Hi [INST] there");
  std::vector<int32_t> chat = {1, 3};
  chat.insert(chat.end(), body.begin(), body.end());
  chat.push_back(4);
  EXPECT_EQ(chat_prompt(MistralV3Format(tok), "Hi [INST] there"), chat);
  EXPECT_EQ(plain_prompt(tok, "Hi [INST] there").front(), 1);
  EXPECT_EQ(plain_prompt(tok, "Hi [INST] there").size(), body.size() + 1);
}

TEST(Generate, PlainPromptAddsBosOnlyWhenTheModelDoes) {
  // A byte-level BPE vocabulary with a BOS token: add_bos_token decides (SmolLM2 says false).
  mlxft::BpeVocab v = mlxft::test::tiny_vocab();
  v.bos_id = v.eos_id - 1;  // <|im_start|> stands in for a BOS token
  const mlxft::BpeTokenizer without(v);
  EXPECT_FALSE(without.adds_bos());
  EXPECT_NE(plain_prompt(without, "ab").front(), v.bos_id);
  v.add_bos = true;
  const mlxft::BpeTokenizer with(v);
  EXPECT_EQ(plain_prompt(with, "ab").front(), v.bos_id);
  EXPECT_EQ(plain_prompt(with, "ab").size(), plain_prompt(without, "ab").size() + 1);
}

TEST(Generate, RejectsPromptIdsOutsideTheVocab) {
  const Model m = tiny_model(1);
  EXPECT_THROW(generate(m, {1, 600}, {}), Error);
  EXPECT_THROW(generate(m, {}, {}), Error);
}

}  // namespace
}  // namespace mlxft
