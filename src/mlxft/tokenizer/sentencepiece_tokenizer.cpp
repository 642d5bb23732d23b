// SentencePiece behind the tokenizer seam (see sentencepiece_tokenizer.h).
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include <system_error>

#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

namespace {

// SentencePiece reports most bad models through its status, but a piece its double-array trie cannot
// hold (an empty piece: found by fuzz/spm_fuzz.cpp) throws from inside the library.
sentencepiece::util::Status load_proto(sentencepiece::SentencePieceProcessor& sp, const std::string& proto,
                                       const std::filesystem::path& source) {
  try {
    return sp.LoadFromSerializedProto(proto);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Model, source.string(),
                fmt::format("not a valid SentencePiece model: {}", e.what()),
                "every piece must be a non-empty, distinct string; use the model's original tokenizer.model");
  }
}

}  // namespace

SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model_file) {
  std::error_code ec;
  if (!std::filesystem::exists(model_file, ec)) {
    throw Error(ErrorKind::Model, model_file.string(), "tokenizer file not found",
                "point --tokenizer (or the model directory) at a SentencePiece tokenizer.model");
  }
  // Read through the one untrusted-file reader: a FIFO or directory is refused unopened.
  const std::string proto = read_untrusted_file(model_file, "tokenizer file", 256ull << 20);
  SentencePieceTokenizer tok;
  tok.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = load_proto(*tok.sp_, proto, model_file);
  if (!status.ok()) {
    throw Error(ErrorKind::Model, model_file.string(),
                fmt::format("not a valid SentencePiece model: {}", status.message()));
  }
  tok.path_ = model_file;
  return tok;
}

SentencePieceTokenizer SentencePieceTokenizer::from_serialized(const std::string& model_proto,
                                                               const std::filesystem::path& source) {
  SentencePieceTokenizer tok;
  tok.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = load_proto(*tok.sp_, model_proto, source);
  if (!status.ok()) {
    throw Error(ErrorKind::Model, source.string(),
                fmt::format("the SentencePiece vocabulary cannot be loaded: {}", status.message()));
  }
  tok.path_ = source;
  return tok;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), fmt::format("cannot tokenize text: {}", status.message()));
  }
  return {ids.begin(), ids.end()};
}

std::vector<Tokenizer::Piece> SentencePieceTokenizer::encode_with_offsets(std::string_view text) const {
  sentencepiece::ImmutableSentencePieceText spt;
  const auto status = sp_->Encode(text, spt.mutable_proto());
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), fmt::format("cannot tokenize text: {}", status.message()));
  }
  std::vector<Piece> out;
  out.reserve(spt.pieces_size());
  for (const auto& p : spt.pieces()) out.push_back(Piece{static_cast<int32_t>(p.id()), p.begin(), p.end()});
  return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> in(ids.begin(), ids.end());
  std::string out;
  const auto status = sp_->Decode(in, &out);
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), fmt::format("cannot decode ids: {}", status.message()));
  }
  return out;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return fmt::format("<out-of-vocab:{}>", id);
  return sp_->IdToPiece(id);
}

int32_t SentencePieceTokenizer::vocab_size() const {
  return sp_->GetPieceSize();
}
int32_t SentencePieceTokenizer::bos_id() const {
  return sp_->bos_id();
}
int32_t SentencePieceTokenizer::eos_id() const {
  return sp_->eos_id();
}

bool SentencePieceTokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsControl(id);
}

std::optional<int32_t> SentencePieceTokenizer::control_id(std::string_view text) const {
  const int id = sp_->PieceToId(text);
  if (id <= 0 || id >= vocab_size() || !sp_->IsControl(id) || sp_->IdToPiece(id) != text) {
    return std::nullopt;
  }
  return id;
}

}  // namespace mlxft
