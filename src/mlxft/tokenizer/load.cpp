// Picking the tokenizer implementation for a file (see load.h).
#include "mlxft/tokenizer/load.h"

#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"

namespace mlxft {

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
      throw Error(ErrorKind::Model, file.string(),
                  "byte-level BPE tokenizers (tokenizer.json) are not supported yet",
                  "use a model directory that has a SentencePiece tokenizer.model");
    case TokenizerFileKind::Gguf:
      throw Error(ErrorKind::Model, file.string(),
                  "reading the tokenizer of a GGUF file is not supported yet",
                  "use a Hugging Face model directory with a tokenizer.model");
  }
  return nullptr;
}

}  // namespace mlxft
