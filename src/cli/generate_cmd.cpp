// `mlxft generate`: text from a model (optionally with LoRA adapters), streamed
// to stdout as it is produced; prompt and generation speed and peak memory go
// to stderr. With --chat, the tool catalogue --tools FILE (default: the adapter's tools.json) is
// offered in the prompt, and --constrain-tools keeps the calls the model opens well formed
// (eval/call_constraint.h).
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
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/eval/call_constraint.h"
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
  std::string tools;
  bool chat = false, constrain_tools = false;
  GenerateOptions options;
};

// --tools, else <adapter>/tools.json when the adapter has one, else none.
std::shared_ptr<const OrderedJson> catalogue_of(const GenerateArgs& a) {
  const std::filesystem::path path =
      a.tools.empty() ? adapter_catalogue(a.adapter) : std::filesystem::path(a.tools);
  if (path.empty()) return nullptr;
  return std::make_shared<const OrderedJson>(load_tool_catalogue(path));
}

void run_generate(const GenerateArgs& a) {
  const ModelSession session = load_model_session(a.model, a.tokenizer, a.dtype, a.adapter, a.chat_format);
  const Tokenizer& tokenizer = *session.tokenizer;
  const Model& model = session.model;
  GenerateOptions options = a.options;
  if (session.adapters) options.lora = &*session.adapters;
  if (a.chat) options.stop_ids = session.chat->stop_ids();
  const auto catalogue = a.chat ? catalogue_of(a) : nullptr;
  if (a.constrain_tools) {
    if (!a.chat) throw Error(ErrorKind::Usage, "--constrain-tools", "needs --chat", "add --chat");
    options.constraint = call_constraint_factory(*session.chat, catalogue, model.config.eos_token_id);
  }

  const auto prompt =
      a.chat ? chat_prompt(*session.chat, a.prompt, catalogue ? *catalogue : OrderedJson::array())
             : plain_prompt(tokenizer, a.prompt);
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
  cmd->add_option("--tools", a->tools,
                  "With --chat: tool catalogue (JSON list) offered in the prompt (default: the adapter's "
                  "tools.json, if any)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--constrain-tools", a->constrain_tools,
                "With --chat: once the model opens a tool call, keep it a catalogue name with arguments that "
                "fit the tool's schema");
  cmd->add_option("--max-tokens", a->options.max_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", a->options.ignore_eos,
                "Keep generating past the end-of-sequence and end-of-turn tokens, up to --max-tokens "
                "(speed measurements)");
  add_sampling_options(cmd, a->options);
  add_session_options(cmd, a->dtype, a->tokenizer);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace mlxft::cli
