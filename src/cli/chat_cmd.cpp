// `mlxft chat --model M [--adapter A] [--tools tools.json] [--max-tokens N]`: talk to a model (an
// adapted one before exporting it) turn by turn, the whole tool loop included.
//
// Each line read is one user turn; the answer streams to stdout as it is generated, and the
// conversation so far is the next turn's prompt (through eval/generate.h and its PromptCache, so
// only the new tokens of each turn are computed). Tool calls in an answer are read by the chat
// format (ChatFormat::parse_tool_calls()) and shown as "[tool call] NAME {arguments}"; the user then
// gives each call's result with "/tool RESULT" (in call order; JSON or text, as the tool message),
// and once every call has its result the model answers again. Commands: /reset (forget the
// conversation), /exit (or end of input), /help. --tool-choice required starts every answer to a
// user turn with the format's call opener and keeps the call well formed against the catalogue
// (eval/call_constraint.h), as OpenAI's tool_choice "required". With standard input a terminal it
// shows a prompt and hints; otherwise (a pipe, a script) it reads one turn per line and prints only
// the answers and calls. After each answer a line on stderr gives the prompt's tokens (the history),
// how many of them the cache already held, and the generation speed.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/data_options.h"
#include "cli/model_path_check.h"
#include "cli/model_session.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/data/tool_text.h"
#include "mlxft/eval/call_constraint.h"
#include "mlxft/eval/generate.h"
#include "mlxft/eval/text_stream.h"
#include "mlxft/eval/tool_calls.h"
#include "mlxft/util/error.h"
#include "mlxft/util/prng.h"

namespace mlxft::cli {
namespace {

struct ChatArgs {
  std::string model, adapter, tokenizer, dtype, chat_format = "auto", tools, tool_choice = "auto";
  GenerateOptions options;
};

// The ids of `text`: one control or added token when the vocabulary has it, else its encoding.
std::vector<int32_t> ids_of(const Tokenizer& tok, const std::string& text) {
  if (const auto id = tok.control_id(text)) return {*id};
  return tok.encode(text);
}

class ChatSession {
 public:
  ChatSession(const ChatArgs& a, const ModelSession& s) : a_(a), s_(s), options_(a.options) {
    if (s.adapters) options_.lora = &*s.adapters;
    options_.stop_ids = s.chat->stop_ids();
    const std::filesystem::path tools =
        a.tools.empty() ? adapter_catalogue(a.adapter) : std::filesystem::path(a.tools);
    if (!tools.empty()) catalogue_ = std::make_shared<const OrderedJson>(load_tool_catalogue(tools));
    if (a.tool_choice == "required") {
      constraint_ = call_constraint_factory(*s.chat, catalogue_, s.model.config.eos_token_id);
      opener_ = ids_of(*s.tokenizer, s.chat->call_syntax().opener);
    }
    reset();
  }

  size_t tool_count() const { return catalogue_ ? catalogue_->size() : 0; }

  void reset() {
    conversation_ = Conversation();
    if (catalogue_) conversation_.tools = *catalogue_;
    pending_.clear();
  }

  // A user turn; false when tool calls still wait for results (nothing is sent).
  bool user(const std::string& text) {
    if (!pending_.empty()) return false;
    Message m;
    m.role = Role::User;
    m.content = text;
    conversation_.messages.push_back(std::move(m));
    answer(a_.tool_choice == "required");
    return true;
  }

  // The result of the oldest call waiting for one; false when none waits.
  bool tool_result(const std::string& text) {
    if (pending_.empty()) return false;
    Message m;
    m.role = Role::Tool;
    m.tool_call_id = pending_.front();
    m.content = text;
    m.tool_result = text.empty() ? OrderedJson::object() : json_or_string(text);
    conversation_.messages.push_back(std::move(m));
    pending_.pop_front();
    if (pending_.empty()) answer(false);
    return true;
  }

  size_t pending() const { return pending_.size(); }

 private:
  // Generates the assistant's turn, streaming it, and adds it to the conversation.
  void answer(bool force_call) {
    std::vector<int32_t> prompt = s_.chat->generation_prompt(conversation_);
    GenerateOptions o = options_;
    if (force_call) {
      prompt.insert(prompt.end(), opener_.begin(), opener_.end());
      o.constraint = [factory = constraint_, opener = opener_] {
        auto c = factory();
        for (int32_t id : opener) c->accept(id);  // the call is open: only a well-formed one may follow
        return c;
      };
    }
    const Tokenizer& tok = *s_.tokenizer;
    TextStream stream(tok);
    if (force_call) std::cout << s_.chat->call_syntax().opener;
    GenerateStats stats;
    const std::vector<int32_t> generated = generate(
        s_.model, prompt, o, [&](int32_t id) { std::cout << stream.push(id) << std::flush; }, &stats,
        &cache_);
    std::cout << "\n" << std::flush;
    const double seconds = stats.prompt_seconds + stats.generate_seconds;
    std::cerr << fmt::format("[{} prompt tokens, {} reused; {} generated, {:.1f} tokens/s]\n",
                             stats.prompt_tokens, stats.reused_tokens, stats.generated_tokens,
                             seconds > 0 ? stats.generated_tokens / seconds : 0.0);
    std::vector<int32_t> turn = force_call ? opener_ : std::vector<int32_t>{};
    turn.insert(turn.end(), generated.begin(), generated.end());
    const ParsedCalls calls = s_.chat->parse_tool_calls(text_keeping_controls(tok, turn));
    Message m;
    m.role = Role::Assistant;
    if (calls.made_call && calls.valid && !calls.calls.empty()) {
      for (size_t k = 0; k < calls.calls.size(); ++k) {
        const ParsedCall& c = calls.calls[k];
        const std::string id = make_tool_call_id(mix_seed(++call_number_, k));
        m.tool_calls.push_back(ToolCall{id, c.name, c.arguments});
        pending_.push_back(id);
        std::cout << "[tool call] " << c.name << " " << c.arguments.dump() << "\n";
      }
    } else {
      if (calls.made_call) std::cout << "[tool call not understood: kept as text]\n";
      m.content = tok.decode(generated);
    }
    std::cout << std::flush;
    conversation_.messages.push_back(std::move(m));
  }

  const ChatArgs& a_;
  const ModelSession& s_;
  GenerateOptions options_;
  std::shared_ptr<const OrderedJson> catalogue_;
  std::function<std::unique_ptr<TokenConstraint>()> constraint_;
  std::vector<int32_t> opener_;
  Conversation conversation_;
  std::deque<std::string> pending_;  // ids of the calls waiting for a result, in call order
  PromptCache cache_;
  uint64_t call_number_ = 0;
};

const char* kHelp =
    "Type a message and press Enter. /tool RESULT gives the oldest waiting tool call its result (JSON or "
    "text); /reset forgets the conversation; /exit (or Ctrl-D) ends.\n";

void run_chat(const ChatArgs& a) {
  const ModelSession session = load_model_session(a.model, a.tokenizer, a.dtype, a.adapter, a.chat_format);
  if (a.tool_choice == "required" && session.chat->call_syntax().opener.empty())
    throw Error(ErrorKind::Usage, "--tool-choice", "this chat format has no tool-call opener to force");
  ChatSession chat(a, session);
  const bool terminal = ::isatty(STDIN_FILENO) != 0;
  if (terminal) {
    std::cerr << fmt::format("mlxft chat: {} ({} format{}{}). {}", a.model, session.chat->name(),
                             a.adapter.empty() ? "" : ", adapter " + a.adapter,
                             chat.tool_count() ? fmt::format(", {} tools", chat.tool_count()) : "", kHelp);
  }
  std::string line;
  while (true) {
    if (terminal) std::cerr << (chat.pending() ? "tool> " : "> ") << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line.empty()) continue;
    if (line == "/help") {
      std::cerr << kHelp;
    } else if (line == "/reset") {
      chat.reset();
      std::cerr << "(conversation cleared)\n";
    } else if (line.rfind("/tool", 0) == 0 && (line.size() == 5 || line[5] == ' ')) {
      if (!chat.tool_result(line.size() > 6 ? line.substr(6) : ""))
        std::cerr << "no tool call is waiting for a result\n";
    } else if (!chat.user(line)) {
      std::cerr << fmt::format("{} tool call(s) wait for a result: /tool RESULT (or /reset)\n",
                               chat.pending());
    } else if (terminal && chat.pending() > 0) {
      std::cerr << "(give the result with /tool RESULT)\n";
    }
  }
}

}  // namespace

void add_chat_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "Chat with a model (and adapter) in the terminal, tool calls included; one turn per line");
  cmd->add_option("--model", a->model, "Model: HF or MLX-quantized directory, or a .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--adapter", a->adapter, "LoRA adapter directory (PEFT or mlx-lm)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option(
         "--tools", a->tools,
         "Tool catalogue (JSON list) offered to the model (default: the adapter's tools.json, if any)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tool-choice", a->tool_choice,
                  "auto: the model decides; required: every answer to a user turn is a well-formed tool call")
      ->check(CLI::IsMember({"auto", "required"}))
      ->capture_default_str();
  add_chat_format_option(cmd, a->chat_format);
  cmd->add_option("--max-tokens", a->options.max_tokens, "Most tokens of each answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_sampling_options(cmd, a->options);
  add_session_options(cmd, a->dtype, a->tokenizer);
  cmd->callback([a] { run_chat(*a); });
}

}  // namespace mlxft::cli
