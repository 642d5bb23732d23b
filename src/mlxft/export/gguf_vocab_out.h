// The tokenizer.* metadata of an exported GGUF, from whatever tokenizer the model source has.
//
// Contract: gguf_tokenizer_metadata() gives the keys llama.cpp reads (llama-vocab.cpp):
// - a GGUF source: its own tokenizer.* keys, copied as they are;
// - tokenizer.model (SentencePiece): tokenizer.ggml.model "llama", pre "default", every piece with
//   its score and type (1 normal, 2 unknown, 3 control, 5 unused, 6 byte; tokenizer_config.json's
//   added_tokens_decoder makes its special tokens control (3) and the others user-defined (4), with
//   score -1000, as llama.cpp's converter does), add_space_prefix as the model normalizes, bos/eos/unk ids, add_bos_token from tokenizer_config.json (default true) and
//   add_eos_token false;
// - tokenizer.json (byte-level BPE): tokenizer.ggml.model "gpt2", pre the llama.cpp family whose
//   regexes equal the file's pre-tokenizer (a Model error naming the file when none does), tokens,
//   token_type (special 3, user-defined 4, unused 5, else 1), merges "left right", bos/eos/unk/pad
//   ids (bos/eos from config.json's bos_token_id/eos_token_id where tokenizer_config.json names none,
//   as the converter does for Qwen) and add_bos_token;
// plus tokenizer.chat_template when the model has one. A vocabulary shorter than the model's
// `vocab_size` (embedding rows) is padded with "[PAD<i>]" tokens of type unused (5) (score -10000), as llama.cpp's
// converter does: llama.cpp takes the vocabulary size from the token list.
#pragma once

#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/config.h"
#include "mlxft/model/source.h"

namespace mlxft {

GgufMetadata gguf_tokenizer_metadata(const ModelSource& source, int vocab_size);

}  // namespace mlxft
