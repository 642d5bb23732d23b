// Ollama Modelfiles beside the exported GGUF files.
//
// Contract: write_modelfile(gguf, from, adapter, source) writes "<gguf without .gguf>.Modelfile"
// next to `gguf` (atomically) and returns its path: FROM `from`, ADAPTER `adapter` when given (paths
// beside the Modelfile are written "./name", others absolute), then, for the chat format mlxft
// recognises in the model (chat/chat_format.h detect_chat_format()), its TEMPLATE in Ollama's Go
// template syntax and a PARAMETER stop line for each of its stop strings (ChatFormat::
// ollama_template()). A model whose chat format is not recognised gets FROM/ADAPTER only and a comment.
// modelfile_path() is where it goes (the exports refuse to start when it exists).
#pragma once

#include <filesystem>

#include "mlxft/model/source.h"

namespace mlxft {

std::filesystem::path modelfile_path(const std::filesystem::path& gguf);

std::filesystem::path write_modelfile(const std::filesystem::path& gguf, const std::filesystem::path& from,
                                      const std::filesystem::path& adapter, const ModelSource& source);

}  // namespace mlxft
