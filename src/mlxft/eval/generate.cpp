// KV-cached generation loop (see generate.h).
#include "mlxft/eval/generate.h"

#include <algorithm>
#include <chrono>

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Logits of the last position of a [1, T, V] forward result, as [V].
mx::array last_logits(const mx::array& logits) {
  const int T = logits.shape(1);
  return mx::reshape(mx::slice(logits, {0, T - 1, 0}, {1, T, logits.shape(2)}), {-1});
}

}  // namespace

std::vector<int32_t> generate(const Model& model, const std::vector<int32_t>& prompt,
                              const GenerateOptions& options, const std::function<void(int32_t)>& on_token,
                              GenerateStats* stats) {
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
  const int prompt_len = static_cast<int>(prompt.size());
  if (prompt_len >= c.max_position_embeddings) {
    throw Error(ErrorKind::Usage, "--prompt",
                "the prompt has " + std::to_string(prompt_len) + " tokens; the model's context is " +
                    std::to_string(c.max_position_embeddings));
  }
  GenerateStats local;
  GenerateStats& st = stats ? *stats : local;
  st = GenerateStats{};
  st.prompt_tokens = prompt_len;
  mx::reset_peak_memory();

  ForwardOptions fwd;
  fwd.lora = options.lora;
  KVCache cache;
  mx::array key = mx::random::key(options.seed);
  auto next = [&](const mx::array& logits) {
    auto [step_key, rest] = mx::random::split(key);
    key = rest;
    mx::array token = sample_token(last_logits(logits), options.sampling, step_key);
    mx::eval(token);
    return token.item<int32_t>();
  };

  std::vector<int32_t> out;
  auto t0 = std::chrono::steady_clock::now();
  const mx::array prompt_ids = mx::array(prompt.data(), {1, prompt_len}, mx::int32);
  int32_t token = next(forward(model, prompt_ids, fwd, &cache));
  st.prompt_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  while (true) {
    if (token == c.eos_token_id ||
        std::find(options.stop_ids.begin(), options.stop_ids.end(), token) != options.stop_ids.end()) {
      st.stopped_at_eos = true;
      break;
    }
    out.push_back(token);
    if (on_token) on_token(token);
    if (static_cast<int>(out.size()) >= options.max_tokens || cache.offset >= c.max_position_embeddings)
      break;
    token = next(forward(model, mx::array(&token, {1, 1}, mx::int32), fwd, &cache));
    ++st.decode_steps;
  }
  st.generate_seconds = seconds_since(t0);
  st.generated_tokens = static_cast<int>(out.size());
  st.peak_memory_bytes = mx::get_peak_memory();
  return out;
}

std::vector<int32_t> plain_prompt(const Tokenizer& tokenizer, const std::string& text) {
  std::vector<int32_t> ids;
  if (tokenizer.adds_bos()) ids.push_back(tokenizer.bos_id());
  const auto body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::vector<int32_t> chat_prompt(const ChatFormat& format, const std::string& text) {
  Conversation conversation;
  Message user;
  user.role = Role::User;
  user.content = text;
  conversation.messages.push_back(std::move(user));
  return format.generation_prompt(conversation);
}

}  // namespace mlxft
