// `mlxft data synth`: writes the built-in synthetic tool-calling dataset
// (see mlxft/data/synthetic.h) as JSONL, for the demo and for trying mlxft
// without data of one's own.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "mlxft/data/synthetic.h"
#include "mlxft/util/durable_file.h"

namespace mlxft::cli {

void add_data_synth_command(CLI::App& data_app) {
  struct Options {
    int count = 400;
    uint64_t seed = 0;
    std::string out;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = data_app.add_subcommand("synth", "Write a synthetic tool-calling dataset (chat messages + tools JSONL)");
  cmd->add_option("--count", opts->count, "Number of conversations")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--seed", opts->seed, "Random seed (same seed, same file)")->capture_default_str();
  cmd->add_option("--out", opts->out, "Output JSONL file")->required();
  cmd->callback([opts] {
    std::string content;
    for (const auto& line : synthesize_tool_conversations(opts->count, opts->seed)) content += line + "\n";
    write_file_atomic(opts->out, content);
    fmt::print("wrote {} conversations to {}\n", opts->count, opts->out);
  });
}

}  // namespace mlxft::cli
