// One test per validation rule: a bad record is skipped with its line number
// and reason kind; whole-file problems and unusable data are one clear error.
#include <gtest/gtest.h>

#include "mlxft/data/dataset.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

using namespace mlxft;

namespace {

const std::string kGood =
    R"({"conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], "label": true})";

DataOptions lenient() {
  DataOptions o;
  o.min_examples = 0;
  o.max_bad_fraction = 1.0;
  return o;
}

class DataValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    MLXFT_REQUIRE_TOKENIZER();
    tok_ = std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::load(test::v3_tokenizer()));
    chat_ = make_chat_format("mistral-v3", *tok_);
  }
  // Loads kGood followed by `line`; expects exactly that line (2) skipped for `kind`.
  void expect_skipped(const std::string& line, const std::string& kind, const DataOptions& o = lenient()) {
    test::write_file(dir_ / "d.jsonl", kGood + "\n" + line + "\n");
    const auto ds = load_dataset_unchecked(dir_ / "d.jsonl", *chat_, o);
    ASSERT_EQ(ds.report.skipped.size(), 1u) << line;
    EXPECT_EQ(ds.report.skipped[0].line, 2);
    EXPECT_EQ(ds.report.skipped[0].reason.rfind(kind + ":", 0), 0u) << ds.report.skipped[0].reason;
    EXPECT_EQ(ds.examples.size(), 1u);
  }
  Dataset load(const std::string& content, const DataOptions& o = lenient()) {
    test::write_file(dir_ / "d.jsonl", content);
    return load_dataset_unchecked(dir_ / "d.jsonl", *chat_, o);
  }
  test::TempDir dir_;
  std::unique_ptr<SentencePieceTokenizer> tok_;
  std::unique_ptr<ChatFormat> chat_;
};

}  // namespace

TEST_F(DataValidation, InvalidJson) {
  expect_skipped(R"({"conversations": [)", "invalid JSON");
}
TEST_F(DataValidation, NotAnObject) {
  expect_skipped("[1, 2]", "not an object");
}
TEST_F(DataValidation, UnknownShape) {
  expect_skipped(R"({"foo": 1})", "unknown shape");
}
TEST_F(DataValidation, EmptyContent) {
  expect_skipped(
      R"({"conversations": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]})",
      "empty content");
}
TEST_F(DataValidation, NonStringContent) {
  expect_skipped(
      R"({"conversations": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]})",
      "non-string content");
}
TEST_F(DataValidation, InvalidUtf8) {
  expect_skipped("{\"conversations\": [{\"role\": \"user\", \"content\": \"\xC3\x28\"}]}", "invalid UTF-8");
}
TEST_F(DataValidation, MustEndWithAssistant) {
  expect_skipped(
      R"({"conversations": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, )"
      R"({"role": "user", "content": "c"}]})",
      "role order");
}
TEST_F(DataValidation, MustStartWithUser) {
  expect_skipped(R"({"conversations": [{"role": "assistant", "content": "b"}]})", "role order");
}
TEST_F(DataValidation, UnknownRole) {
  expect_skipped(
      R"({"conversations": [{"role": "robot", "content": "a"}, {"role": "assistant", "content": "b"}]})",
      "unknown role");
}
TEST_F(DataValidation, ToolResultMustAnswerACall) {
  const std::string line =
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, )"
      R"({"role": "tool", "tool_call_id": "abcdefghi", "content": "r"}, {"role": "assistant", "content": "c"}]})";
  test::write_file(dir_ / "d.jsonl", line + "\n");
  const auto ds = load_dataset_unchecked(dir_ / "d.jsonl", *chat_, lenient());
  ASSERT_EQ(ds.report.skipped.size(), 1u);
  EXPECT_EQ(ds.report.skipped[0].reason.rfind("tool result without call:", 0), 0u)
      << ds.report.skipped[0].reason;
}
TEST_F(DataValidation, ToolResultIdMustMatchACall) {
  const std::string line =
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": [{"id": "call00001", )"
      R"("type": "function", "function": {"name": "f", "arguments": {}}}]}, {"role": "tool", "tool_call_id": )"
      R"("call00002", "content": "r"}, {"role": "assistant", "content": "b"}]})";
  DataOptions o = lenient();
  o.format = "messages";
  test::write_file(dir_ / "d.jsonl", line + "\n");
  const auto ds = load_dataset_unchecked(dir_ / "d.jsonl", *chat_, o);
  ASSERT_EQ(ds.report.skipped.size(), 1u);
  EXPECT_EQ(ds.report.skipped[0].reason.rfind("unknown tool call id:", 0), 0u) << ds.report.skipped[0].reason;
}
TEST_F(DataValidation, ArgumentsMustBeAJsonObject) {
  const std::string line =
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": [{"id": "call00001", )"
      R"("type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}]})";
  test::write_file(dir_ / "d.jsonl", line + "\n");
  const auto ds = load_dataset_unchecked(dir_ / "d.jsonl", *chat_, lenient());
  ASSERT_EQ(ds.report.skipped.size(), 1u);
  EXPECT_EQ(ds.report.skipped[0].reason.rfind("bad arguments:", 0), 0u) << ds.report.skipped[0].reason;
}
TEST_F(DataValidation, AssistantTurnCannotMixTextAndToolCalls) {
  const std::string line =
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "Let me look.", )"
      R"("tool_calls": [{"id": "call00001", "type": "function", "function": {"name": "f", "arguments": {}}}]}, )"
      R"({"role": "tool", "tool_call_id": "call00001", "content": "r"}, {"role": "assistant", "content": "b"}]})";
  const std::string split =
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "Let me look."}, )"
      R"({"role": "assistant", "tool_calls": [{"id": "call00001", "type": "function", "function": {"name": "f"}}]}]})";
  test::write_file(dir_ / "d.jsonl", line + "\n" + split + "\n");
  const auto ds = load_dataset_unchecked(dir_ / "d.jsonl", *chat_, lenient());
  ASSERT_EQ(ds.report.skipped.size(), 2u);
  EXPECT_EQ(ds.report.skipped[0].reason.rfind("content and tool calls:", 0), 0u)
      << ds.report.skipped[0].reason;
  EXPECT_EQ(ds.report.skipped[1].reason.rfind("content and tool calls:", 0), 0u)
      << ds.report.skipped[1].reason;
}
TEST_F(DataValidation, MessageOverTheSizeLimit) {
  DataOptions o = lenient();
  o.max_message_bytes = 100;
  expect_skipped(R"({"conversations": [{"role": "user", "content": ")" + std::string(200, 'x') +
                     R"("}, {"role": "assistant", "content": "b"}]})",
                 "message too large", o);
}
TEST_F(DataValidation, NothingToTrainAfterTruncation) {
  DataOptions o = lenient();
  o.max_seq_length = 40;
  o.truncate = Truncate::End;
  expect_skipped(R"({"conversations": [{"role": "user", "content": ")" + std::string(300, 'y') +
                     R"("}, {"role": "assistant", "content": "b"}]})",
                 "nothing to train", o);
}
TEST_F(DataValidation, BadLabel) {
  expect_skipped(
      R"({"conversations": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], )"
      R"("label": 3})",
      "bad label");
}

TEST_F(DataValidation, OverLongExamplesAreDroppedAndCountedOrCutAtTheEnd) {
  const std::string longer =
      R"({"conversations": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ")" +
      std::string(400, 'z') + R"("}]})";
  DataOptions o = lenient();
  o.max_seq_length = 64;
  auto ds = load(kGood + "\n" + longer + "\n", o);
  EXPECT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.report.too_long, 1);
  EXPECT_TRUE(ds.report.skipped.empty());
  o.truncate = Truncate::End;
  ds = load(kGood + "\n" + longer + "\n", o);
  ASSERT_EQ(ds.examples.size(), 2u);
  EXPECT_EQ(ds.examples[1].ids.size(), 64u);
  EXPECT_EQ(ds.report.truncated, 1);
}

TEST_F(DataValidation, LabelFilterKeepsUndesirableAsHeldOut) {
  const std::string bad =
      R"({"conversations": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "label": false})";
  auto ds = load(kGood + "\n" + bad + "\n");
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].index, 0);
  ASSERT_EQ(ds.held_out.size(), 1u);
  EXPECT_EQ(ds.held_out[0].index, 1);
  DataOptions o = lenient();
  o.labels = LabelFilter::Undesirable;
  ds = load(kGood + "\n" + bad + "\n", o);
  ASSERT_EQ(ds.examples.size(), 1u);
  EXPECT_EQ(ds.examples[0].index, 1);
  o.labels = LabelFilter::All;
  EXPECT_EQ(load(kGood + "\n" + bad + "\n", o).examples.size(), 2u);
}

TEST_F(DataValidation, WarnsOnDuplicatesAndLabelImbalance) {
  const auto ds = load(kGood + "\n" + kGood + "\n\n" + kGood + "\n");
  ASSERT_EQ(ds.report.duplicates.size(), 2u);
  EXPECT_EQ(ds.report.duplicates[0], std::make_pair(int64_t{2}, int64_t{1}));
  EXPECT_EQ(ds.report.duplicates[1], std::make_pair(int64_t{4}, int64_t{1}));  // blank line 3 is not a record
  EXPECT_EQ(ds.report.records, 3);
  bool dup = false, imbalance = false;
  for (const auto& w : ds.report.warnings) {
    dup |= w.find("duplicates") != std::string::npos;
    imbalance |= w.find("imbalance") != std::string::npos;
  }
  EXPECT_TRUE(dup);
  EXPECT_TRUE(imbalance);  // 3 desirable / 0 undesirable
}

TEST_F(DataValidation, TooManyBadRecordsOrTooFewExamplesIsOneClearError) {
  std::string content;
  for (int i = 0; i < 19; ++i) content += kGood + "\n";
  content += "not json\n";  // 1 of 20 = 5 %: allowed
  test::write_file(dir_ / "d.jsonl", content);
  DataOptions o;
  o.min_examples = 19;
  EXPECT_EQ(load_dataset(dir_ / "d.jsonl", *chat_, o).examples.size(), 19u);
  test::write_file(dir_ / "d.jsonl", content + "still not json\n");  // 2 of 21 > 5 %
  try {
    load_dataset(dir_ / "d.jsonl", *chat_, o);
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Data);
    EXPECT_NE(std::string(e.what()).find("2 of 21 records are invalid"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("d.jsonl:20"), std::string::npos) << e.what();
  }
  o.max_bad_fraction = 0.5;
  o.min_examples = 100;
  try {
    load_dataset(dir_ / "d.jsonl", *chat_, o);
    FAIL() << "expected a data error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only 19 usable examples"), std::string::npos) << e.what();
  }
}

TEST_F(DataValidation, WholeFileProblemsAreOneClearError) {
  auto expect_error = [&](const std::filesystem::path& p, const std::string& what) {
    try {
      load_dataset_unchecked(p, *chat_, lenient());
      FAIL() << "expected an error for " << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Data);
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(dir_ / "missing.jsonl", "does not exist");
  expect_error(dir_.path(), "is a directory");
  test::write_file(dir_ / "empty.jsonl", "\n  \n");
  expect_error(dir_ / "empty.jsonl", "is empty");
  test::write_file(dir_ / "utf16.jsonl", std::string("\xFF\xFE{\0\"\0", 6));
  expect_error(dir_ / "utf16.jsonl", "not UTF-8");
  test::write_file(dir_ / "latin1.jsonl", "caf\xE9\n\xFF\xFE\n");
  expect_error(dir_ / "latin1.jsonl", "not UTF-8");
}

TEST_F(DataValidation, SimpleFormatsAndForcedFormat) {
  auto ds = load(R"({"prompt": "2+2?", "completion": "4"})"
                 "\n");
  EXPECT_EQ(ds.report.format, "prompt_completion");
  ASSERT_EQ(ds.examples.size(), 1u);
  ds = load(R"({"text": "just text"})"
            "\n");
  EXPECT_EQ(ds.report.format, "text");
  DataOptions o = lenient();
  o.format = "messages";
  ds = load(kGood + "\n", o);
  EXPECT_EQ(ds.report.skipped.size(), 1u);  // a conversations record is not a messages record
  o.format = "yaml";
  EXPECT_THROW(load(kGood + "\n", o), Error);
}
