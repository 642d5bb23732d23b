// Picking the tokenizer implementation for a file (see load.h).
#include "mlxft/tokenizer/load.h"

#include <fmt/format.h>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/bpe_tokenizer.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/tokenizer/spm_proto.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

// tokenizer.ggml.model "gpt2": byte-level BPE; "llama": SentencePiece rebuilt from the vocabulary.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::filesystem::path& file) {
  const GgufTokenizerVocab vocab = tokenizer_vocab_from_gguf(file);
  if (vocab.model == "gpt2") return std::make_unique<BpeTokenizer>(bpe_vocab_from_gguf(vocab));
  if (vocab.model == "llama") {
    return std::make_unique<SentencePieceTokenizer>(
        SentencePieceTokenizer::from_serialized(sentencepiece_model_from_gguf(vocab), file));
  }
  throw Error(ErrorKind::Model, file.string(),
              fmt::format("tokenizer.ggml.model \"{}\" is not supported", vocab.model),
              "mlxft reads \"gpt2\" (byte-level BPE) and \"llama\" (SentencePiece) vocabularies");
}

}  // namespace

TokenizerFileKind tokenizer_file_kind(const std::filesystem::path& file) {
  if (file.extension() == ".gguf") return TokenizerFileKind::Gguf;
  if (file.extension() == ".json") return TokenizerFileKind::HfTokenizerJson;
  return TokenizerFileKind::SentencePiece;
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& file) {
  switch (tokenizer_file_kind(file)) {
    case TokenizerFileKind::SentencePiece:
      return std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::load(file));
    case TokenizerFileKind::HfTokenizerJson:
      return std::make_unique<BpeTokenizer>(bpe_vocab_from_tokenizer_json(file));
    case TokenizerFileKind::Gguf: return load_gguf_tokenizer(file);
  }
  return nullptr;
}

}  // namespace mlxft
