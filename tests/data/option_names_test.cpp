// Recipes and flags spell the data choices as words; one parser serves both.
#include <gtest/gtest.h>

#include "mlxft/data/options.h"
#include "mlxft/util/error.h"

using namespace mlxft;

TEST(DataOptionNames, EveryChoiceMapsAndAnUnknownNameIsAConfigErrorNamingWhere) {
  EXPECT_EQ(tool_format_from_name("native", "k"), ToolFormat::Native);
  EXPECT_EQ(tool_format_from_name("text", "k"), ToolFormat::Text);
  EXPECT_EQ(label_filter_from_name("desirable", "k"), LabelFilter::Desirable);
  EXPECT_EQ(label_filter_from_name("all", "k"), LabelFilter::All);
  EXPECT_EQ(label_filter_from_name("undesirable", "k"), LabelFilter::Undesirable);
  EXPECT_EQ(truncate_from_name("drop", "k"), Truncate::Drop);
  EXPECT_EQ(truncate_from_name("end", "k"), Truncate::End);
  try {
    (void)label_filter_from_name("good", "data.labels");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_EQ(e.where(), "data.labels");
  }
  EXPECT_THROW((void)tool_format_from_name("json", "--tool-format"), Error);
  EXPECT_THROW((void)truncate_from_name("start", "--truncate"), Error);
}

// One table per choice, in enum order: recipes, flags and hints all read it.
TEST(DataOptionNames, TablesAreInEnumOrderAndHintsListThem) {
  for (size_t i = 0; i < tool_format_names().size(); ++i)
    EXPECT_EQ(tool_format_from_name(tool_format_names()[i], "k"), static_cast<ToolFormat>(i));
  for (size_t i = 0; i < label_filter_names().size(); ++i)
    EXPECT_EQ(label_filter_from_name(label_filter_names()[i], "k"), static_cast<LabelFilter>(i));
  for (size_t i = 0; i < truncate_names().size(); ++i)
    EXPECT_EQ(truncate_from_name(truncate_names()[i], "k"), static_cast<Truncate>(i));
  EXPECT_EQ(choice_hint(label_filter_names()), "use desirable, all or undesirable");
  EXPECT_EQ(choice_hint(truncate_names()), "use drop or end");
  try {
    (void)truncate_from_name("start", "--truncate");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.hint(), "use drop or end");
  }
}

TEST(DataOptionNames, ClaudeIsAnotherNameForConversations) {
  EXPECT_EQ(data_format_from_name("claude", "--format"), "conversations");
  EXPECT_EQ(data_format_from_name("messages", "--format"), "messages");
  EXPECT_EQ(data_format_from_name("auto", "--format"), "auto");
  EXPECT_EQ(data_format_from_name("sharegpt", "--format"), "sharegpt");  // from/value conversations
  EXPECT_THROW((void)data_format_from_name("alpaca", "--format"), Error);
}
