// A SentencePiece model (serialized sentencepiece.ModelProto) built from a GGUF "llama" vocabulary,
// so that SentencePiece itself (LoadFromSerializedProto) tokenizes GGUF models of that kind.
//
// Contract: sentencepiece_model_from_gguf() writes the protobuf wire format by hand (Debian's
// libsentencepiece-dev ships no sentencepiece_model.pb.h): every token as a piece with its score and
// type (GGUF token types 1-6 are SentencePiece's), trainer_spec model_type BPE (the Llama/Mistral
// merge-by-score algorithm llama.cpp runs for "llama" vocabularies), byte_fallback when the vocab has
// byte pieces, unk/bos/eos/pad ids and pieces; normalizer "identity" with add_dummy_prefix from
// tokenizer.ggml.add_space_prefix, whitespace escaped to U+2581, extra whitespace kept.
// Throws mlxft::Error (Model) naming the GGUF key when the vocabulary cannot be expressed
// (not "llama", no unknown token, lengths that differ).
#pragma once

#include <string>

#include "mlxft/tokenizer/bpe_load.h"

namespace mlxft {

std::string sentencepiece_model_from_gguf(const GgufTokenizerVocab& gguf);

}  // namespace mlxft
