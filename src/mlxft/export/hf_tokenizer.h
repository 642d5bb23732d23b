// The Hugging Face tokenizer files of a model that came as a GGUF file.
//
// Contract: write_hf_tokenizer_from_gguf() reads the tokenizer.* metadata of `gguf` and writes into
// `dir`:
// - a "llama" (SentencePiece) vocabulary: tokenizer.model, the SentencePiece model rebuilt from
//   the vocabulary (tokenizer/spm_proto.h), and tokenizer_config.json (LlamaTokenizer);
// - a "gpt2" (byte-level BPE) vocabulary: tokenizer.json (model BPE with the vocab and merges;
//   added_tokens for control (special) and user-defined tokens; the pre-tokenizer of
//   tokenizer.ggml.pre as Digits / ByteLevel / Split(Isolated) steps; ByteLevel decoder) and
//   tokenizer_config.json (PreTrainedTokenizerFast);
// both with bos/eos/unk/pad tokens, add_bos_token/add_eos_token and the chat template, plus
// generation_config.json. mlxft's own loaders and Hugging Face `tokenizers` read them back.
// Another vocabulary kind is a Model error naming the file and tokenizer.ggml.model.
#pragma once

#include <filesystem>

#include "mlxft/model/config.h"

namespace mlxft {

void write_hf_tokenizer_from_gguf(const std::filesystem::path& gguf, const ModelConfig& config,
                                  const std::filesystem::path& dir);

}  // namespace mlxft
