#include "mlxft/tokenizer/spm_proto.h"

#include <cstring>

#include "mlxft/util/error.h"

namespace mlxft {

namespace {

// Protobuf wire format: varints, fixed32 floats and length-delimited fields.
class ProtoWriter {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += char((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out_ += char(v);
  }
  void key(int field, int wire_type) { varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
  void int_field(int field, int64_t v) {  // int32/enum/bool: negatives sign-extended to 10 bytes
    key(field, 0);
    varint(uint64_t(v));
  }
  void float_field(int field, float v) {
    key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 4; ++i) out_ += char((bits >> (8 * i)) & 0xFF);
  }
  void bytes_field(int field, const std::string& bytes) {
    key(field, 2);
    varint(bytes.size());
    out_ += bytes;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

}  // namespace

std::string sentencepiece_model_from_gguf(const GgufTokenizerVocab& g) {
  auto fail = [&](const std::string& key, const std::string& what) -> void {
    throw Error(ErrorKind::Model, g.source + ": " + key, what);
  };
  if (g.model != "llama") fail("tokenizer.ggml.model", "'" + g.model + "' is not a SentencePiece vocabulary");
  const size_t n = g.tokens.size();
  if (n == 0) fail("tokenizer.ggml.tokens", "missing or empty");
  if (!g.scores.empty() && g.scores.size() != n) fail("tokenizer.ggml.scores", "length differs from tokens");
  if (!g.token_types.empty() && g.token_types.size() != n)
    fail("tokenizer.ggml.token_type", "length differs from tokens");
  ProtoWriter model;
  // The unknown piece: tokenizer.ggml.unknown_token_id, else the first piece of type 2. SentencePiece
  // needs exactly one piece of type UNKNOWN, so that one gets it whatever its type in the file
  // (llama.cpp's Gemma 3 GGUFs mark <unk> as a control token) and any other type-2 piece becomes control.
  int64_t unk = g.unk_id;
  for (size_t i = 0; unk < 0 && i < g.token_types.size(); ++i) {
    if (g.token_types[i] == kUnknown) unk = int64_t(i);
  }
  bool byte_fallback = false;
  for (size_t i = 0; i < n; ++i) {
    int type = g.token_types.empty() ? kNormal : g.token_types[i];
    if (type < kNormal || type > kByte) type = kNormal;
    if (type == kUnknown) type = kControl;
    if (int64_t(i) == unk) type = kUnknown;
    byte_fallback |= type == kByte;
    ProtoWriter piece;
    piece.bytes_field(1, g.tokens[i]);
    piece.float_field(2, g.scores.empty() ? 0.0f : g.scores[i]);
    piece.int_field(3, type);
    model.bytes_field(1, piece.str());
  }
  if (unk < 0) fail("tokenizer.ggml.token_type", "no unknown token (type 2): SentencePiece needs one");
  auto piece_or_empty = [&](int64_t id) { return id >= 0 && size_t(id) < n ? g.tokens[id] : std::string(); };
  ProtoWriter trainer;
  trainer.int_field(3, 2);  // model_type = BPE
  trainer.int_field(4, int64_t(n));
  trainer.int_field(35, byte_fallback);
  trainer.int_field(40, unk);
  trainer.int_field(41, g.bos_id);
  trainer.int_field(42, g.eos_id);
  trainer.int_field(43, g.pad_id);
  trainer.bytes_field(45, piece_or_empty(unk));
  if (g.bos_id >= 0) trainer.bytes_field(46, piece_or_empty(g.bos_id));
  if (g.eos_id >= 0) trainer.bytes_field(47, piece_or_empty(g.eos_id));
  if (g.pad_id >= 0) trainer.bytes_field(48, piece_or_empty(g.pad_id));
  model.bytes_field(2, trainer.str());
  ProtoWriter normalizer;
  normalizer.bytes_field(1, "identity");
  normalizer.int_field(3, g.add_space_prefix);
  normalizer.int_field(4, 0);  // remove_extra_whitespaces
  normalizer.int_field(5, 1);  // escape_whitespaces
  model.bytes_field(3, normalizer.str());
  return model.str();
}

}  // namespace mlxft
