#include "mlxft/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "mlxft/util/error.h"

namespace mlxft {

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

// Token text decoded as code points below 0x800 (the byte-mapped alphabet); false when it has others.
bool decode_mapped(const std::string& text, std::vector<uint32_t>& cps) {
  cps.clear();
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      cps.push_back(c);
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cps.push_back((uint32_t(c & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      append_utf8(t[b], printable ? b : next++);
    }
    return t;
  }();
  return table;
}

// Ids (and piece-relative end bytes) of recently seen pieces; cleared when it grows too large.
struct BpeTokenizer::MergeCache {
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxPieceBytes = 128;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::pair<int32_t, uint32_t>>> entries;
};

BpeTokenizer::BpeTokenizer(BpeVocab vocab)
    : vocab_(std::move(vocab)),
      pretokenizer_(vocab_.pretokenizer, vocab_.source),
      cache_(std::make_unique<MergeCache>()) {
  const std::string& src = vocab_.source;
  const int32_t n = int32_t(vocab_.tokens.size());
  if (n == 0) throw Error(ErrorKind::Model, src, "the tokenizer has no tokens");
  if (vocab_.kinds.empty()) vocab_.kinds.assign(n, BpeTokenKind::Normal);
  if (int32_t(vocab_.kinds.size()) != n)
    throw Error(ErrorKind::Model, src, "token kinds and tokens differ in length");
  for (int32_t* id : {&vocab_.bos_id, &vocab_.eos_id, &vocab_.pad_id, &vocab_.unk_id})
    if (*id >= n)
      throw Error(ErrorKind::Model, src, "special token id " + std::to_string(*id) + " out of range");
  if (vocab_.unk_id >= 0 && vocab_.kinds[vocab_.unk_id] != BpeTokenKind::Special)
    byte_unk_id_ = vocab_.unk_id;
  token_to_id_.reserve(n);
  for (int32_t id = 0; id < n; ++id) {
    token_to_id_.emplace(vocab_.tokens[id], id);  // the first id wins for a duplicated text
    if (vocab_.kinds[id] == BpeTokenKind::UserDefined && !vocab_.tokens[id].empty())
      user_defined_.push_back(id);
  }
  std::stable_sort(user_defined_.begin(), user_defined_.end(), [&](int32_t a, int32_t b) {
    return vocab_.tokens[a].size() > vocab_.tokens[b].size();  // longest match first
  });
  char_to_byte_.fill(-1);
  std::vector<uint32_t> cps;
  for (int b = 0; b < 256; ++b) {
    const std::string& ch = byte_to_unicode()[b];
    decode_mapped(ch, cps);
    char_to_byte_[cps[0]] = int16_t(b);
    auto it = token_to_id_.find(ch);
    byte_id_[b] = it == token_to_id_.end() ? -1 : it->second;
  }
  merge_.reserve(vocab_.merges.size());
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const auto& [left, right] = vocab_.merges[rank];
    auto l = token_to_id_.find(left), r = token_to_id_.find(right), m = token_to_id_.find(left + right);
    if (l == token_to_id_.end() || r == token_to_id_.end() || m == token_to_id_.end())
      throw Error(ErrorKind::Model, src + ": merges",
                  "merge " + std::to_string(rank) + " '" + left + " " + right +
                      "' names a token not in the vocabulary");
    merge_.emplace(pair_key(l->second, r->second), std::pair{int32_t(rank), m->second});
  }
}

BpeTokenizer::~BpeTokenizer() = default;

// Byte-pair merges over one piece: the pair of lowest rank first, leftmost among equals.
void BpeTokenizer::bpe(std::string_view piece, std::vector<int32_t>& ids, std::vector<uint32_t>& ends) const {
  struct Symbol {
    int32_t id, prev, next;
    uint32_t end;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  for (uint32_t i = 0; i < piece.size(); ++i) {
    int32_t id = byte_id_[static_cast<unsigned char>(piece[i])];
    if (id < 0) id = byte_unk_id_;
    if (id < 0) continue;  // no token and no usable unk token: the byte is dropped, as `tokenizers` does
    int32_t k = int32_t(symbols.size());
    symbols.push_back({id, k - 1, k + 1, i + 1});
  }
  if (!symbols.empty()) symbols.back().next = -1;
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    int32_t right = symbols[left].next;
    auto it = merge_.find(pair_key(symbols[left].id, symbols[right].id));
    if (it != merge_.end())
      queue.push({it->second.first, left, right, symbols[left].id, symbols[right].id, it->second.second});
  };
  for (int32_t k = 0; k + 1 < int32_t(symbols.size()); ++k) consider(k);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    if (left.id != c.left_id || left.next != c.right || symbols[c.right].id != c.right_id) continue;  // stale
    Symbol& right = symbols[c.right];
    left.id = c.merged;
    left.end = right.end;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    right.id = -1;
    consider(left.prev);
    consider(c.left);
  }
  for (int32_t k = symbols.empty() ? -1 : 0; k >= 0; k = symbols[k].next) {
    ids.push_back(symbols[k].id);
    ends.push_back(symbols[k].end);
  }
}

void BpeTokenizer::encode_piece(std::string_view piece, uint32_t base, std::vector<Piece>& out) const {
  std::vector<std::pair<int32_t, uint32_t>> result;
  const bool cacheable = piece.size() <= MergeCache::kMaxPieceBytes;
  if (cacheable) {
    std::lock_guard lock(cache_->mutex);
    auto it = cache_->entries.find(std::string(piece));
    if (it != cache_->entries.end()) result = it->second;
  }
  if (result.empty()) {
    bool whole = false;
    if (vocab_.ignore_merges) {
      std::string mapped;
      for (char c : piece) mapped += byte_to_unicode()[static_cast<unsigned char>(c)];
      auto it = token_to_id_.find(mapped);
      if ((whole = it != token_to_id_.end())) result.push_back({it->second, uint32_t(piece.size())});
    }
    if (!whole) {
      std::vector<int32_t> ids;
      std::vector<uint32_t> ends;
      bpe(piece, ids, ends);
      for (size_t k = 0; k < ids.size(); ++k) result.push_back({ids[k], ends[k]});
    }
    if (cacheable && !result.empty()) {
      std::lock_guard lock(cache_->mutex);
      if (cache_->entries.size() >= MergeCache::kMaxEntries) cache_->entries.clear();
      cache_->entries.emplace(std::string(piece), result);
    }
  }
  uint32_t begin = 0;
  for (const auto& [id, end] : result) {
    uint32_t b = begin, e = end;  // widen to whole characters inside the piece
    while (b > 0 && is_continuation(static_cast<unsigned char>(piece[b]))) --b;
    while (e < piece.size() && is_continuation(static_cast<unsigned char>(piece[e]))) ++e;
    out.push_back({id, base + b, base + e});
    begin = end;
  }
}

void BpeTokenizer::encode_segment(std::string_view text, TextSpan range, std::vector<Piece>& out) const {
  std::vector<TextSpan> spans;
  pretokenizer_.split(text, range, spans);
  for (const auto& s : spans) encode_piece(text.substr(s.begin, s.end - s.begin), s.begin, out);
}

std::vector<Tokenizer::Piece> BpeTokenizer::encode_with_offsets(std::string_view text) const {
  if (text.size() >= UINT32_MAX)
    throw Error(ErrorKind::Data, vocab_.source, "text too long to tokenize (4 GiB or more)");
  std::vector<Piece> out;
  out.reserve(text.size() / 3 + 4);
  uint32_t start = 0;
  if (!user_defined_.empty()) {
    for (uint32_t i = 0; i < text.size();) {
      int32_t found = -1;
      for (int32_t id : user_defined_) {
        if (text.compare(i, vocab_.tokens[id].size(), vocab_.tokens[id]) == 0) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        ++i;
        continue;
      }
      encode_segment(text, {start, i}, out);
      uint32_t end = i + uint32_t(vocab_.tokens[found].size());
      out.push_back({found, i, end});
      start = i = end;
    }
  }
  encode_segment(text, {start, uint32_t(text.size())}, out);
  return out;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (const auto& p : encode_with_offsets(text)) ids.push_back(p.id);
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  std::vector<uint32_t> cps;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || vocab_.kinds[id] == BpeTokenKind::Special) continue;
    const std::string& text = vocab_.tokens[id];
    if (vocab_.kinds[id] == BpeTokenKind::UserDefined || !decode_mapped(text, cps)) {
      out += text;  // added tokens hold raw text
      continue;
    }
    for (uint32_t cp : cps) {
      int16_t b = cp < char_to_byte_.size() ? char_to_byte_[cp] : int16_t(-1);
      if (b >= 0) {
        out += char(b);
      } else {
        append_utf8(out, cp);
      }
    }
  }
  return out;
}

std::string BpeTokenizer::piece(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "<out-of-vocab:" + std::to_string(id) + ">";
  return vocab_.tokens[id];
}

bool BpeTokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_size() && vocab_.kinds[id] == BpeTokenKind::Special;
}

std::optional<int32_t> BpeTokenizer::control_id(std::string_view text) const {
  auto it = token_to_id_.find(std::string(text));
  if (it == token_to_id_.end() || !is_control(it->second)) return std::nullopt;
  return it->second;
}

}  // namespace mlxft
