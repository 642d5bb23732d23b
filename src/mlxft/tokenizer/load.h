// Choosing and loading the tokenizer implementation for a file.
//
// Contract:
// - load_tokenizer(file) picks the implementation from the file: a SentencePiece model
//   (tokenizer.model, or any file not named below); a Hugging Face tokenizer.json (byte-level
//   BPE); a .gguf file: the vocabulary inside it, byte-level BPE for tokenizer.ggml.model "gpt2",
//   SentencePiece for "llama" (any other kind is a Model error naming the file).
// - The file to pass comes from the model source (model/source.h: ModelSource::tokenizer_file)
//   or from a --tokenizer flag.
// - Errors are mlxft::Error (Model) naming the file: missing, unreadable, or not a tokenizer.
#pragma once

#include <filesystem>
#include <memory>

#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

enum class TokenizerFileKind { SentencePiece, HfTokenizerJson, Gguf };

TokenizerFileKind tokenizer_file_kind(const std::filesystem::path& file);

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& file);

}  // namespace mlxft
