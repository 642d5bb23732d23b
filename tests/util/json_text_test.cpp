#include "mlxft/util/json_text.h"

#include <gtest/gtest.h>

using mlxft::OrderedJson;
using mlxft::python_json_dumps;

// Expected strings are what Python 3.11 prints for json.dumps(value, ensure_ascii=False).
TEST(JsonText, MatchesPythonJsonDumps) {
  const auto v =
      OrderedJson::parse(R"({"b": 1, "a": [1.5, -0.0, 1e20, 1.5e-7, 0.1, 1e16, 123456789012.0, true, null],)"
                         R"( "s": "\u00e9\"\\/\n\t\u0001\u007f\u2028 \ud83d\ude00", "e": {}, "l": []})");
  EXPECT_EQ(
      python_json_dumps(v),
      "{\"b\": 1, \"a\": [1.5, -0.0, 1e+20, 1.5e-07, 0.1, 1e+16, 123456789012.0, true, null], "
      "\"s\": \"\xC3\xA9\\\"\\\\/\\n\\t\\u0001\x7F\xE2\x80\xA8 \xF0\x9F\x98\x80\", \"e\": {}, \"l\": []}");
}

TEST(JsonText, KeepsKeyOrderAndNesting) {
  const auto v = OrderedJson::parse(R"({"z": {"y": [{"x": "1"}, []]}, "a": -3})");
  EXPECT_EQ(python_json_dumps(v), R"({"z": {"y": [{"x": "1"}, []]}, "a": -3})");
}

TEST(JsonText, NumbersAsPythonWritesThem) {
  const auto v = OrderedJson::parse(
      "[1e15, 0.0001, 1e-5, 123.456, 5e-324, 1.7976931348623157e308, 100.0, 2.5e15, 12345678901234567890, "
      "-1e-7]");
  EXPECT_EQ(python_json_dumps(v),
            "[1000000000000000.0, 0.0001, 1e-05, 123.456, 5e-324, 1.7976931348623157e+308, 100.0, "
            "2500000000000000.0, 12345678901234567890, -1e-07]");
}
