// Recipes and flags spell the data choices as words; one parser serves both.
#include <gtest/gtest.h>

#include "mlxft/data/dataset.h"
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
