// The tokenizer metadata of a GGUF file goes through the validating GGUF reader: a small "gpt2"
// vocabulary written with mlxft's GGUF writer reads back; a corrupted tokenizer key (wrong type,
// wrong length, a float id, an integer that does not fit) and a truncated file are Model errors
// naming the file and the key; a special id outside the vocabulary is ignored, as llama.cpp does.
#include <gtest/gtest.h>

#include <fstream>

#include "mlxft/formats/gguf_writer.h"
#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

using T = GgufValueType;

GgufMetadata vocab_metadata() {
  const std::vector<GgufScalar> tokens = {std::string("a"), std::string("b"), std::string("ab"),
                                          std::string("<s>")};
  return {
      {"tokenizer.ggml.model", GgufValue::string("gpt2")},
      {"tokenizer.ggml.pre", GgufValue::string("smollm")},
      {"tokenizer.ggml.tokens", GgufValue::array_of(T::String, tokens)},
      {"tokenizer.ggml.token_type",
       GgufValue::array_of(T::I32, {int64_t{1}, int64_t{1}, int64_t{1}, int64_t{3}})},
      {"tokenizer.ggml.merges", GgufValue::array_of(T::String, {std::string("a b")})},
      {"tokenizer.ggml.bos_token_id", GgufValue::u32(3)},
      {"tokenizer.ggml.padding_token_id", GgufValue::u32(7)},  // outside the vocabulary: ignored
      {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
      {"tokenizer.chat_template", GgufValue::string("{{ messages }}")},
  };
}

fs::path write(const test::TempDir& dir, const GgufMetadata& meta) {
  const fs::path file = dir / "vocab.gguf";
  save_gguf(file, meta, {});
  return file;
}

// `meta` with `key` replaced by `value`.
GgufMetadata with(GgufMetadata meta, const std::string& key, GgufValue value) {
  for (auto& [k, v] : meta)
    if (k == key) v = std::move(value);
  return meta;
}

// The Model error reading `meta` gives: where names the file and `key`, the message has `says`.
void expect_key_error(const GgufMetadata& meta, const std::string& key, const std::string& says) {
  test::TempDir dir;
  const fs::path file = write(dir, meta);
  try {
    tokenizer_vocab_from_gguf(file);
    ADD_FAILURE() << key << ": no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model) << e.what();
    EXPECT_NE(e.where().find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(e.where().find(key), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(GgufVocab, ReadsTheTokenizerKeysThroughTheValidatingReader) {
  test::TempDir dir;
  const GgufTokenizerVocab v = tokenizer_vocab_from_gguf(write(dir, vocab_metadata()));
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_EQ(v.tokens, (std::vector<std::string>{"a", "b", "ab", "<s>"}));
  EXPECT_EQ(v.token_types, (std::vector<int32_t>{1, 1, 1, 3}));
  EXPECT_EQ(v.merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(v.bos_id, 3);
  EXPECT_EQ(v.pad_id, -1);  // 7 is outside the 4 tokens
  EXPECT_TRUE(v.add_bos);
  EXPECT_EQ(v.chat_template, "{{ messages }}");
}

TEST(GgufVocab, ACorruptedTokenizerKeyIsAModelErrorNamingIt) {
  const GgufMetadata ok = vocab_metadata();
  expect_key_error(with(ok, "tokenizer.ggml.tokens", GgufValue::string("a b ab")), "tokenizer.ggml.tokens",
                   "expected an array of strings, found a string");
  expect_key_error(with(ok, "tokenizer.ggml.merges", GgufValue::array_of(T::U32, {uint64_t{1}})),
                   "tokenizer.ggml.merges", "expected an array of strings, found an array of u32");
  expect_key_error(with(ok, "tokenizer.ggml.model", GgufValue::u32(2)), "tokenizer.ggml.model",
                   "expected a string");
  expect_key_error(with(ok, "tokenizer.ggml.bos_token_id", GgufValue::f32(3.0f)),
                   "tokenizer.ggml.bos_token_id", "expected an integer token id");
  expect_key_error(with(ok, "tokenizer.ggml.add_bos_token", GgufValue::u32(1)),
                   "tokenizer.ggml.add_bos_token", "expected a bool");
  expect_key_error(with(ok, "tokenizer.ggml.token_type", GgufValue::array_of(T::I32, {int64_t{1}})),
                   "tokenizer.ggml.token_type", "1 token types for 4 tokens");
  expect_key_error(with(ok, "tokenizer.ggml.token_type",
                        GgufValue::array_of(T::I64, {int64_t{1}, int64_t{1}, int64_t{1} << 40, int64_t{3}})),
                   "tokenizer.ggml.token_type[2]", "is not a 32-bit integer");
  expect_key_error(with(ok, "tokenizer.ggml.tokens", GgufValue::array_of(T::String, {})),
                   "tokenizer.ggml.tokens", "missing or empty");
}

TEST(GgufVocab, ATruncatedFileGetsTheReadersError) {
  test::TempDir dir;
  const std::string bytes = gguf_bytes(vocab_metadata(), {});
  const fs::path file = dir / "cut.gguf";
  std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 9));
  try {
    tokenizer_vocab_from_gguf(file);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model) << e.what();
    EXPECT_NE(e.where().find(file.string()), std::string::npos) << e.what();
    // The reader names the KV it could not finish (the last one, the chat template).
    EXPECT_NE(e.where().find("tokenizer.chat_template"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mlxft
