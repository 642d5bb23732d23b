// What `mlxft generate` and `mlxft eval` both start with: a model directory,
// its tokenizer (or --tokenizer), an optional --dtype and an optional
// --adapter, loaded and checked against each other.
//
// add_session_options() binds --dtype and --tokenizer (what load_model_session() takes);
// add_sampling_options() binds --temperature, --top-p and --seed of a generation (generate, chat).
//
// Contract: load_model_session() throws a Model error naming the file when
// the tokenizer is missing (load_tokenizer), when its vocabulary is larger than the model's,
// or when the adapter does not fit the model.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mlxft/chat/chat_format.h"
#include "mlxft/eval/generate.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft::cli {

struct ModelSession {
  std::filesystem::path tokenizer_file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatFormat> chat;  // the chat format (--chat-format) over `tokenizer`
  Model model;
  std::optional<LoraAdapters> adapters;
};

// `tokenizer` and `dtype` may be empty (the model source's tokenizer file; the default compute dtype);
// `adapter` may be empty (no adapter). `chat_format` is "auto" (recognised from the model's chat
// template; a Config error naming --chat-format when it is not) or a format name.
ModelSession load_model_session(const std::filesystem::path& model_dir, const std::string& tokenizer,
                                const std::string& dtype, const std::string& adapter,
                                const std::string& chat_format = "auto");

void add_session_options(CLI::App* cmd, std::string& dtype, std::string& tokenizer);
void add_sampling_options(CLI::App* cmd, GenerateOptions& options);

}  // namespace mlxft::cli
