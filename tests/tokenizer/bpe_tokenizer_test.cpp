// Byte-level BPE on a hand-made vocabulary: merge order, specials never from text, added tokens,
// offsets, invalid UTF-8, the byte map, the pre-tokenizer, loader errors.
#include <gtest/gtest.h>

#include <set>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::tiny_vocab;

int32_t id_of(const BpeTokenizer& t, const std::string& token) {
  for (int32_t id = 0; id < t.vocab_size(); ++id)
    if (t.piece(id) == token) return id;
  return -1;
}

std::vector<std::string> split(const PreTokenizer& p, std::string_view text) {
  std::vector<TextSpan> spans;
  p.split(text, {0, uint32_t(text.size())}, spans);
  std::vector<std::string> out;
  for (auto s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

TEST(BpeByteMap, MatchesGpt2) {
  const auto& map = byte_to_unicode();
  EXPECT_EQ(map[' '], "Ġ");
  EXPECT_EQ(map['\n'], "Ċ");
  EXPECT_EQ(map['A'], "A");
  EXPECT_EQ(map[0xAD], "Ń");  // the 68th remapped byte: U+0100 + 67
  EXPECT_EQ(std::set<std::string>(map.begin(), map.end()).size(), 256u);
}

TEST(BpePreTokenizer, Gpt2SplitsLikeTheReference) {
  PreTokenizer gpt2({kGpt2Pattern}, "test");
  EXPECT_EQ(split(gpt2, "Hello world's  123"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", " 123"}));
  PreTokenizer smollm(pretokenizer_for_family("smollm", "test"), "test");
  EXPECT_EQ(split(smollm, "ab 123"), (std::vector<std::string>{"ab", " ", "1", "2", "3"}));
  PreTokenizer llama3(pretokenizer_for_family("llama3", "test"), "test");
  EXPECT_EQ(split(llama3, "DON'T 12345"), (std::vector<std::string>{"DON", "'T", " ", "123", "45"}));
}

TEST(BpePreTokenizer, WhitespaceIncludesNextLine) {
  EXPECT_EQ(widen_whitespace_classes(R"(a\s+(?!\S)[^\s\p{L}])"),
            R"(a[\s\x{85}]+(?![^\s\x{85}])[^\s\x{85}\p{L}])");
  PreTokenizer gpt2({kGpt2Pattern}, "test");
  // `tokenizers` cuts U+0085 pairs apart (\s); PCRE2's own \s would keep them one punctuation piece.
  EXPECT_EQ(split(gpt2, "a\u0085\u0085b"), (std::vector<std::string>{"a", "\u0085", "\u0085", "b"}));
}

TEST(BpePreTokenizer, InvalidUtf8IsKeptAndNeverThrows) {
  PreTokenizer gpt2({kGpt2Pattern}, "test");
  const std::string text = "ab\xff\xfe cd\x80 \xe4\xbd";
  std::string joined;
  for (const auto& piece : split(gpt2, text)) joined += piece;
  EXPECT_EQ(joined, text);
}

TEST(BpePreTokenizer, UnknownFamilyNamesTheKey) {
  try {
    pretokenizer_for_family("no-such-family", "model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.where().find("tokenizer.ggml.pre"), std::string::npos);
  }
}

TEST(BpeTokenizer, MergesByRankLeftmostFirst) {
  BpeTokenizer t(tiny_vocab());
  EXPECT_EQ(t.encode("hello"), (std::vector<int32_t>{id_of(t, "hello")}));
  EXPECT_EQ(t.encode("aaa"), (std::vector<int32_t>{id_of(t, "aa"), id_of(t, "a")}));
  EXPECT_EQ(t.encode("hello world"), (std::vector<int32_t>{id_of(t, "hello"), id_of(t, "Ġw"), id_of(t, "o"),
                                                           id_of(t, "r"), id_of(t, "l"), id_of(t, "d")}));
  EXPECT_EQ(t.kind(), "bpe");
}

TEST(BpeTokenizer, SpecialTokensNeverComeFromText) {
  BpeTokenizer t(tiny_vocab());
  const int32_t start = *t.control_id("<|im_start|>");
  EXPECT_TRUE(t.is_control(start));
  auto ids = t.encode("<|im_start|>hello");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), start), 0);
  EXPECT_EQ(t.decode(ids), "<|im_start|>hello");
  EXPECT_EQ(t.decode({start, id_of(t, "hello"), *t.control_id("<|im_end|>")}), "hello");
  EXPECT_FALSE(t.control_id("<tool_call>"));  // user-defined, not a control token
  EXPECT_FALSE(t.control_id("hello"));
}

TEST(BpeTokenizer, UserDefinedTokensAreCutOutOfText) {
  BpeTokenizer t(tiny_vocab());
  const int32_t call = id_of(t, "<tool_call>");
  auto pieces = t.encode_with_offsets("x<tool_call>y");
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].id, call);
  EXPECT_EQ(pieces[1].begin, 1u);
  EXPECT_EQ(pieces[1].end, 12u);
  EXPECT_EQ(t.decode(t.encode("x<tool_call>y")), "x<tool_call>y");
}

TEST(BpeTokenizer, OffsetsCoverWholeCharacters) {
  BpeTokenizer t(tiny_vocab());
  auto pieces = t.encode_with_offsets("hé");  // é is two byte tokens sharing its range
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[1].begin, 1u);
  EXPECT_EQ(pieces[1].end, 3u);
  EXPECT_EQ(pieces[2].begin, 1u);
  EXPECT_EQ(pieces[2].end, 3u);
}

TEST(BpeTokenizer, ArbitraryBytesRoundTrip) {
  BpeTokenizer t(tiny_vocab());
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  for (const std::string& text :
       {all, std::string("\xff\xfe hello \x80"), std::string(), std::string(1, '\0')})
    EXPECT_EQ(t.decode(t.encode(text)), text);
}

TEST(BpeTokenizer, PieceAndOutOfRange) {
  BpeTokenizer t(tiny_vocab());
  EXPECT_EQ(t.piece(' '), "Ġ");
  EXPECT_EQ(t.piece(-1), "<out-of-vocab:-1>");
  EXPECT_EQ(t.piece(t.vocab_size()), "<out-of-vocab:" + std::to_string(t.vocab_size()) + ">");
  EXPECT_EQ(t.decode({-5, 100000}), "");
  EXPECT_EQ(t.eos_id(), *t.control_id("<|im_end|>"));
  EXPECT_EQ(t.bos_id(), -1);
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeTokens) {
  BpeVocab v = tiny_vocab();
  v.tokens.push_back("abc");  // no merge builds it
  v.kinds.push_back(BpeTokenKind::Normal);
  v.ignore_merges = true;
  BpeTokenizer t(v);
  EXPECT_EQ(t.encode("abc"), (std::vector<int32_t>{int32_t(v.tokens.size()) - 1}));
}

TEST(BpeTokenizer, MissingByteTokensUseUnkOrAreDropped) {
  BpeVocab v = tiny_vocab();
  v.tokens['z'] = "<unk>";  // the byte 'z' loses its token
  v.unk_id = 'z';
  EXPECT_EQ(BpeTokenizer(v).encode("aza"), (std::vector<int32_t>{'a', 'z', 'a'}));
  v.unk_id = -1;
  EXPECT_EQ(BpeTokenizer(v).encode("aza"), (std::vector<int32_t>{int32_t(id_of(BpeTokenizer(v), "aa"))}));
  v.unk_id = int32_t(v.tokens.size()) - 3;  // a special token as unk (SmolLM2): never from text
  ASSERT_EQ(v.kinds[v.unk_id], BpeTokenKind::Special);
  EXPECT_EQ(BpeTokenizer(v).encode("z"), std::vector<int32_t>{});
  EXPECT_FALSE(BpeTokenizer(v).has_byte_token('z'));
}

TEST(BpeTokenizer, BadMergeIsAModelError) {
  BpeVocab v = tiny_vocab();
  v.merges.push_back({"q", "zz"});
  try {
    BpeTokenizer t(v);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(e.where().find("merges"), std::string::npos);
  }
}

// tokenizer.json features we do not support fail with the file and the key.
TEST(BpeTokenizerJson, UnsupportedKeysAreNamed) {
  test::TempDir dir;
  const std::string base =
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}, "added_tokens": []})";
  auto expect_key = [&](std::string json_text, const std::string& from, const std::string& to,
                        const std::string& key) {
    json_text.replace(json_text.find(from), from.size(), to);
    test::write_file(dir / "tokenizer.json", json_text);
    try {
      bpe_vocab_from_tokenizer_json(dir / "tokenizer.json");
      ADD_FAILURE() << "accepted " << key;
    } catch (const Error& e) {
      EXPECT_NE(e.where().find(key), std::string::npos) << e.where();
      EXPECT_NE(e.where().find("tokenizer.json"), std::string::npos);
    }
  };
  expect_key(base, R"("normalizer": null)", R"("normalizer": {"type": "NFC"})", "normalizer");
  expect_key(base, R"("type": "ByteLevel")", R"("type": "Whitespace")", "pre_tokenizer.type");
  expect_key(base, R"("type": "BPE")", R"("type": "WordPiece")", "model.type");
  expect_key(base, R"("merges": [])", R"("merges": [], "byte_fallback": true)", "model.byte_fallback");
  expect_key(base, R"("add_prefix_space": false)", R"("add_prefix_space": true)", "add_prefix_space");
  expect_key(base, R"("merges": [])", R"("merges": [3])", "model.merges[0]");
  test::write_file(dir / "tokenizer.json", base);
  EXPECT_EQ(bpe_vocab_from_tokenizer_json(dir / "tokenizer.json").tokens.size(), 1u);
}

}  // namespace
}  // namespace mlxft
