#include "mlxft/data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <system_error>

#include "mlxft/util/error.h"

namespace mlxft {

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& model_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_file, ec)) {
    throw Error(ErrorKind::Model, model_file.string(), "tokenizer file not found",
                "point --tokenizer (or the model directory) at a SentencePiece tokenizer.model");
  }
  Tokenizer tok;
  tok.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = tok.sp_->Load(model_file.string());
  if (!status.ok()) {
    throw Error(ErrorKind::Model, model_file.string(),
                "not a valid SentencePiece model: " + std::string(status.message()));
  }
  tok.path_ = model_file;
  return tok;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), "cannot tokenize text: " + std::string(status.message()));
  }
  return {ids.begin(), ids.end()};
}

std::vector<Tokenizer::Piece> Tokenizer::encode_with_offsets(std::string_view text) const {
  sentencepiece::ImmutableSentencePieceText spt;
  const auto status = sp_->Encode(text, spt.mutable_proto());
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), "cannot tokenize text: " + std::string(status.message()));
  }
  std::vector<Piece> out;
  out.reserve(spt.pieces_size());
  for (const auto& p : spt.pieces()) out.push_back(Piece{static_cast<int32_t>(p.id()), p.begin(), p.end()});
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> in(ids.begin(), ids.end());
  std::string out;
  const auto status = sp_->Decode(in, &out);
  if (!status.ok()) {
    throw Error(ErrorKind::Data, path_.string(), "cannot decode ids: " + std::string(status.message()));
  }
  return out;
}

std::string Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "<out-of-vocab:" + std::to_string(id) + ">";
  return sp_->IdToPiece(id);
}

int32_t Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int32_t Tokenizer::bos_id() const { return sp_->bos_id(); }
int32_t Tokenizer::eos_id() const { return sp_->eos_id(); }

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsControl(id);
}

std::optional<int32_t> Tokenizer::control_id(std::string_view piece) const {
  const int id = sp_->PieceToId(piece);
  if (id <= 0 || id >= vocab_size() || !sp_->IsControl(id) || sp_->IdToPiece(id) != piece) {
    return std::nullopt;
  }
  return id;
}

int32_t Tokenizer::require_control_id(std::string_view piece) const {
  if (auto id = control_id(piece)) return *id;
  throw Error(ErrorKind::Model, path_.string(),
              "tokenizer has no control token " + std::string(piece),
              "use a Mistral v3 tokenizer (tokenizer.model of Mistral-7B-Instruct-v0.3)");
}

}  // namespace mlxft
