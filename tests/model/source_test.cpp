// The model-source seam: which files a model path is made of.
#include "mlxft/model/source.h"

#include <gtest/gtest.h>

#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

TEST(ModelSource, HfDirectoryNamesItsFilesAndChatTemplate) {
  test::TempDir dir;
  test::write_file(dir / "config.json", "{}");
  test::write_file(dir / "tokenizer.model", "x");
  test::write_file(dir / "tokenizer.json", "{}");
  test::write_file(dir / "model.safetensors.index.json", "{}");
  test::write_file(dir / "tokenizer_config.json", R"({"chat_template": "{{ bos_token }}"})");
  const ModelSource s = resolve_model_source(dir.path());
  EXPECT_EQ(s.kind, ModelSourceKind::HfDirectory);
  EXPECT_EQ(s.config_file, dir / "config.json");
  EXPECT_EQ(s.tokenizer_file, dir / "tokenizer.model");  // SentencePiece first when both exist
  EXPECT_EQ(s.weights_index, dir / "model.safetensors.index.json");
  ASSERT_TRUE(s.chat_template.has_value());
  EXPECT_EQ(*s.chat_template, "{{ bos_token }}");
  EXPECT_FALSE(s.quantization.has_value());
  EXPECT_NO_THROW(require_supported_source(s));
}

TEST(ModelSource, ATokenizerJsonAloneIsTheTokenizerAndNoFilesAreRequiredYet) {
  test::TempDir dir;
  test::write_file(dir / "tokenizer.json", "{}");
  EXPECT_EQ(resolve_model_source(dir.path()).tokenizer_file, dir / "tokenizer.json");
  test::TempDir empty;
  const ModelSource s = resolve_model_source(empty.path());
  EXPECT_EQ(s.tokenizer_file, empty / "tokenizer.model");  // the loader's error names it
  EXPECT_TRUE(s.weights_index.empty());
  EXPECT_FALSE(s.chat_template.has_value());
}

TEST(ModelSource, QuantizedDirectoriesAndGgufFilesAreRecognisedAndRejectedForNow) {
  test::TempDir dir;
  test::write_file(dir / "config.json", R"({"quantization": {"group_size": 32, "bits": 8}})");
  const ModelSource q = resolve_model_source(dir.path());
  EXPECT_EQ(q.kind, ModelSourceKind::MlxQuantizedDirectory);
  ASSERT_TRUE(q.quantization.has_value());
  EXPECT_EQ(q.quantization->group_size, 32);
  EXPECT_EQ(q.quantization->bits, 8);
  EXPECT_NO_THROW(require_supported_source(q));

  test::write_file(dir / "m.gguf", "GGUF");
  const ModelSource g = resolve_model_source(dir / "m.gguf");
  EXPECT_EQ(g.kind, ModelSourceKind::GgufFile);
  EXPECT_EQ(g.tokenizer_file, dir / "m.gguf");
  EXPECT_EQ(g.config_file, dir / "m.gguf");
  EXPECT_NO_THROW(require_supported_source(g));
}

TEST(ModelSource, AMissingPathIsAModelErrorNamingIt) {
  test::TempDir dir;
  try {
    (void)resolve_model_source(dir / "nope");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(e.where().find("nope"), std::string::npos);
  }
  test::write_file(dir / "weights.bin", "x");
  EXPECT_THROW((void)resolve_model_source(dir / "weights.bin"), Error);
}

}  // namespace
}  // namespace mlxft
