// The subcommands of the mlxft program. Each add_*_command() adds one
// subcommand (with its own subcommands) to the app; the callback it installs
// does the work and throws mlxft::Error on failure. main.cpp turns errors
// into messages and exit codes (0 ok, 1 run failure, 2 usage/config error).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace mlxft::cli {

// Options every subcommand sees (set before any callback runs). main.cpp makes --device (auto when not
// given) MLX's default device before any subcommand runs; `train` applies system.device instead when
// --device is not given. Note: the model, generate, data,
// config, report and eval commands still take `global` without using it (their files belong to
// another part of the restructuring; drop the parameter there).
struct GlobalOptions {
  bool debug = false;
  int threads = 0;  // BLAS threads; 0 = the library's default
  std::string device;  // --device: auto | cpu | gpu; "" = not given (auto; train: system.device)
};

// `mlxft model init|info` (model_cmd.cpp).
void add_model_command(CLI::App& app, const GlobalOptions& global);
// `mlxft generate` (generate_cmd.cpp).
void add_generate_command(CLI::App& app, const GlobalOptions& global);
// `mlxft chat` (chat_cmd.cpp).
void add_chat_command(CLI::App& app, const GlobalOptions& global);
// `mlxft data check|render|tools|convert` (data_cmd.cpp).
void add_data_command(CLI::App& app, const GlobalOptions& global);
// `mlxft data synth` (synth_cmd.cpp), added under the `data` subcommand.
void add_data_synth_command(CLI::App& data_app);
// `mlxft train` (train_cmd.cpp): --debug and --threads reach the run (logging level, BLAS threads).
void add_train_command(CLI::App& app, const GlobalOptions& global);
// `mlxft config check|reference` (config_cmd.cpp).
void add_config_command(CLI::App& app, const GlobalOptions& global);
// `mlxft report --run DIR` (report_cmd.cpp).
void add_report_command(CLI::App& app, const GlobalOptions& global);
// `mlxft eval` (eval_cmd.cpp).
void add_eval_command(CLI::App& app, const GlobalOptions& global);
// `mlxft tokenize` (tokenize_cmd.cpp).
void add_tokenize_command(CLI::App& app, const GlobalOptions& global);
// `mlxft model logits` (logits_cmd.cpp), added under the `model` subcommand.
void add_logits_command(CLI::App& model_app);
// `mlxft fuse` (fuse_cmd.cpp).
void add_fuse_command(CLI::App& app, const GlobalOptions& global);
// `mlxft export gguf|gguf-lora` (export_cmd.cpp).
void add_export_command(CLI::App& app, const GlobalOptions& global);

}  // namespace mlxft::cli
