// `mlxft generate`: text from a model (optionally with LoRA adapters), streamed
// to stdout as it is produced; prompt and generation speed and peak memory go
// to stderr.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/data_options.h"
#include "cli/model_path_check.h"
#include "cli/model_session.h"
#include "mlxft/eval/generate.h"
#include "mlxft/eval/text_stream.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/weights.h"
#include "mlxft/tokenizer/tokenizer.h"
#include "mlxft/util/error.h"

namespace mlxft::cli {
namespace {

struct GenerateArgs {
  std::string model, adapter, prompt, tokenizer, dtype, chat_format = "auto";
  bool chat = false;
  GenerateOptions options;
};

void run_generate(const GenerateArgs& a) {
  const ModelSession session = load_model_session(a.model, a.tokenizer, a.dtype, a.adapter, a.chat_format);
  const Tokenizer& tokenizer = *session.tokenizer;
  const Model& model = session.model;
  GenerateOptions options = a.options;
  if (session.adapters) options.lora = &*session.adapters;
  if (a.chat) options.stop_ids = session.chat->stop_ids();

  const auto prompt = a.chat ? chat_prompt(*session.chat, a.prompt) : plain_prompt(tokenizer, a.prompt);
  TextStream stream(tokenizer);
  GenerateStats stats;
  generate(
      model, prompt, options, [&](int32_t id) { std::cout << stream.push(id) << std::flush; }, &stats);
  std::cout << std::endl;

  const double prompt_tps = stats.prompt_seconds > 0 ? stats.prompt_tokens / stats.prompt_seconds : 0.0;
  const double gen_tps = stats.generate_seconds > 0 ? stats.decode_steps / stats.generate_seconds : 0.0;
  std::cerr << fmt::format(
      "prompt: {} tokens, {:.1f} tokens/s | generation: {} tokens, {:.1f} tokens/s{} | peak memory {:.1f} MB "
      "({})\n",
      stats.prompt_tokens, prompt_tps, stats.generated_tokens, gen_tps,
      stats.stopped_at_eos ? " (stopped at EOS)" : "", static_cast<double>(stats.peak_memory_bytes) / 1e6,
      dtype_name(model.dtype));
}

}  // namespace

void add_generate_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a model (KV cache, greedy or top-p)");
  cmd->add_option("--model", a->model, "Model: HF or MLX-quantized directory, or a .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--adapter", a->adapter, "LoRA adapter directory (PEFT or mlx-lm)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--prompt", a->prompt, "Prompt text")->required();
  cmd->add_flag("--chat", a->chat,
                "Wrap the prompt as one user turn of the chat format and stop at its end-of-turn token");
  add_chat_format_option(cmd, a->chat_format);
  cmd->add_option("--max-tokens", a->options.max_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", a->options.sampling.temperature, "0 = greedy")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--top-p", a->options.sampling.top_p, "Nucleus sampling mass")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", a->options.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--dtype", a->dtype,
                  "Compute dtype: float32 | bfloat16 | float16 (default: float32 on CPU)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.model (default: the model directory's)")
      ->check(CLI::ExistingFile);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace mlxft::cli
