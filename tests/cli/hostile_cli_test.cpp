// The hostile-file classes of issue 34 as a user meets them on the command line: `train` refuses a
// tokenizer larger than the model's vocabulary (as generate and eval do); warnings go to stderr so
// `tokenize` output stays machine-readable; a FIFO where config.json belongs is refused at once;
// `model info` checks a GGUF's tensors against its metadata; `generate` names the file and tensor of
// a quantized weight with the wrong dtype.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/quant_io.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

const fs::path kTinyHf = test::source_dir() / "tests/golden/hf_tiny/mistral";  // vocab 1024

TEST(HostileCli, TrainRefusesATokenizerLargerThanTheModelVocab) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  fs::create_directory(dir / "model");
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(kTinyHf / f, dir / "model" / f);
  fs::copy_file(test::v3_tokenizer(), dir / "model" / "tokenizer.model");  // 32768 tokens
  std::string data;
  for (int i = 0; i < 16; ++i)
    data += "{\"messages\": [{\"role\": \"user\", \"content\": \"hi " + std::to_string(i) +
            "\"}, {\"role\": \"assistant\", \"content\": \"zebra quartz\"}]}\n";
  test::write_file(dir / "d.jsonl", data);
  test::write_file(dir / "r.yaml", "model:\n  path: " + (dir / "model").string() +
                                       "\n  dtype: float32\ndata:\n  dataset_path: " + (dir / "d.jsonl").string() +
                                       "\n  min_examples: 4\n  valid_split: 0.25\n  max_seq_length: 32\n"
                                       "training:\n  max_steps: 1\n  batch_size: 2\noutput:\n  output_dir: " +
                                       (dir / "out").string() + "\nlogging:\n  plots: false\n");
  const auto r = test::run_mlxft("train --config " + (dir / "r.yaml").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tokenizer has 32768 tokens but the model's vocab_size is 1024"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("tokenizer.model"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out" / "final_model")) << r.output;
}

// A byte-level GGUF vocabulary whose padding id lies outside it: loading warns (and goes on).
fs::path gguf_tokenizer_with_a_warning(const fs::path& dir) {
  std::vector<GgufScalar> tokens;
  for (int b = 0; b < 256; ++b) {
    static const auto& bytes = []() -> const std::array<std::string, 256>& {
      static std::array<std::string, 256> table;
      // GPT-2's byte-to-unicode: printable bytes as themselves, the rest from U+0100 on.
      int n = 0;
      for (int i = 0; i < 256; ++i) {
        const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174);
        const int cp = printable ? i : 256 + n++;
        std::string s;
        if (cp < 0x80) {
          s = std::string(1, static_cast<char>(cp));
        } else {
          s = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        }
        table[static_cast<size_t>(i)] = s;
      }
      return table;
    }();
    tokens.emplace_back(bytes[static_cast<size_t>(b)]);
  }
  tokens.emplace_back(std::string("hi"));
  tokens.emplace_back(std::string("<|endoftext|>"));
  const GgufMetadata meta = {
      {"general.architecture", GgufValue::string("llama")},
      {"tokenizer.ggml.model", GgufValue::string("gpt2")},
      {"tokenizer.ggml.pre", GgufValue::string("gpt2")},
      {"tokenizer.ggml.tokens", GgufValue::array_of(GgufValueType::String, tokens)},
      {"tokenizer.ggml.merges", GgufValue::array_of(GgufValueType::String, {std::string("h i")})},
      {"tokenizer.ggml.eos_token_id", GgufValue::u32(257)},
      {"tokenizer.ggml.padding_token_id", GgufValue::u32(99999)}};
  save_gguf(dir / "tok.gguf", meta, {});
  return dir / "tok.gguf";
}

TEST(HostileCli, WarningsGoToStderrSoTokenizeStdoutStaysMachineReadable) {
  test::TempDir dir;
  const fs::path tok = gguf_tokenizer_with_a_warning(dir.path());
  const auto both = test::run_command("'" + test::mlxft_binary().string() + "' tokenize --tokenizer '" +
                                      tok.string() + "' --text hi 2>&1");
  ASSERT_EQ(both.exit_code, 0) << both.output;
  ASSERT_NE(both.output.find("outside the vocabulary"), std::string::npos)
      << "the test needs a warning to fire: " << both.output;
  const fs::path stdout_file = dir / "stdout.txt";
  const fs::path stderr_file = dir / "stderr.txt";
  // The group's own redirections win over the 2>&1 run_command appends.
  const auto out = test::run_command("{ '" + test::mlxft_binary().string() + "' tokenize --tokenizer '" +
                                     tok.string() + "' --text hi > '" + stdout_file.string() + "' 2> '" +
                                     stderr_file.string() + "'; }");
  ASSERT_EQ(out.exit_code, 0);
  EXPECT_NE(test::read_file(stderr_file).find("outside the vocabulary"), std::string::npos)
      << "the warning is on stderr";
  const std::string stdout_text = test::read_file(stdout_file);
  EXPECT_EQ(stdout_text.find("warn"), std::string::npos) << stdout_text;
  EXPECT_TRUE(nlohmann::json::accept(stdout_text)) << "stdout is not one JSON value: " << stdout_text;
}

TEST(HostileCli, AFifoWhereConfigJsonBelongsIsRefusedAtOnce) {
  test::TempDir dir;
  fs::copy_file(kTinyHf / "model.safetensors", dir / "model.safetensors");
  ASSERT_EQ(::mkfifo((dir / "config.json").c_str(), 0600), 0);
  for (const std::string cmd : {"model info ", "generate --prompt hi --max-tokens 1 --model "}) {
    // `timeout` turns a hang into a failure instead of a stuck suite.
    const auto r = test::run_command("timeout 60 '" + test::mlxft_binary().string() + "' " + cmd + "'" +
                                     dir.path().string() + "'");
    EXPECT_EQ(r.exit_code, 1) << cmd << r.output;
    EXPECT_NE(r.output.find("config.json: is a FIFO"), std::string::npos) << r.output;
  }
}

TEST(HostileCli, ModelInfoChecksAGgufsTensorsAgainstItsMetadata) {
  test::TempDir dir;
  std::vector<float> norm(4 * 64, 1.0f);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(norm.data()), norm.size() * 4);
  const GgufMetadata meta = {{"general.architecture", GgufValue::string("llama")},
                             {"llama.embedding_length", GgufValue::u32(64)},
                             {"llama.block_count", GgufValue::u32(1u << 30)},
                             {"llama.feed_forward_length", GgufValue::u32(128)},
                             {"llama.attention.head_count", GgufValue::u32(4)},
                             {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f)}};
  save_gguf(dir / "huge.gguf", meta, {{"token_embd.weight", {4, 64}, 0, bytes}});
  const auto huge = test::run_mlxft("model info '" + (dir / "huge.gguf").string() + "'");
  EXPECT_EQ(huge.exit_code, 1) << huge.output;
  EXPECT_NE(huge.output.find("llama.block_count"), std::string::npos) << huge.output;
  EXPECT_EQ(huge.output.find("1073741824 layers"), std::string::npos) << huge.output;

  GgufMetadata two_layers = meta;
  two_layers[2].second = GgufValue::u32(2);
  save_gguf(dir / "short.gguf", two_layers, {{"token_embd.weight", {4, 64}, 0, bytes}});
  const auto missing = test::run_mlxft("model info '" + (dir / "short.gguf").string() + "'");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("short.gguf"), std::string::npos) << missing.output;
  EXPECT_NE(missing.output.find("is missing"), std::string::npos) << missing.output;
}

TEST(HostileCli, GenerateNamesTheFileAndTensorOfAQuantizedWeightWithTheWrongDtype) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir dir;
  write_quantized_model(kTinyHf, dir / "q", QuantSpec{4, 64}, mx::float32);
  const std::string file = (dir / "q" / "model.safetensors").string();
  auto [weights, meta] = mx::load_safetensors(file);
  const std::string name = "model.layers.1.self_attn.q_proj.weight";
  weights.insert_or_assign(name, mx::astype(weights.at(name), mx::float32));
  mx::save_safetensors(file, weights, meta);
  const auto r = test::run_mlxft("generate --prompt hi --max-tokens 1 --model '" + (dir / "q").string() +
                                 "' --tokenizer '" + test::v3_tokenizer().string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("model.safetensors: tensor '" + name + "' has dtype float32"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("uint32"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mlxft
