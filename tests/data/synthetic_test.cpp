#include "mlxft/data/synthetic.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

TEST(Synthetic, SameSeedSameLinesOtherSeedOtherLines) {
  const auto a = mlxft::synthesize_tool_conversations(20, 7);
  const auto b = mlxft::synthesize_tool_conversations(20, 7);
  const auto c = mlxft::synthesize_tool_conversations(20, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 20u);
}

TEST(Synthetic, EveryRecordIsAWellFormedToolConversation) {
  const auto lines = mlxft::synthesize_tool_conversations(50, 1);
  std::set<std::string> tools_used;
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.at("label").get<bool>());
    const auto& m = j.at("messages");
    ASSERT_EQ(m.size(), 5u);
    EXPECT_EQ(m[0]["role"], "system");
    EXPECT_EQ(m[1]["role"], "user");
    EXPECT_EQ(m[2]["role"], "assistant");
    EXPECT_EQ(m[3]["role"], "tool");
    EXPECT_EQ(m[4]["role"], "assistant");
    const auto& call = m[2]["tool_calls"].at(0);
    const std::string id = call["id"];
    EXPECT_EQ(id.size(), 9u);
    for (char ch : id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch))) << id;
    EXPECT_EQ(m[3]["tool_call_id"], id);
    EXPECT_TRUE(call["function"]["arguments"].is_object());
    EXPECT_TRUE(nlohmann::json::accept(m[3]["content"].get<std::string>()));
    const std::string name = call["function"]["name"];
    bool declared = false;
    for (const auto& t : j.at("tools")) declared |= (t["function"]["name"] == name);
    EXPECT_TRUE(declared) << name;
    tools_used.insert(name);
  }
  EXPECT_EQ(tools_used.size(), 4u);  // all four tools appear in 50 records
}
