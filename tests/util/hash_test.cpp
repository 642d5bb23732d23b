#include "mlxft/util/hash.h"

#include <gtest/gtest.h>

// Published FNV-1a 64 test vectors (the empty string is the offset basis itself).
TEST(Hash, Fnv1a64MatchesTheStandardVectors) {
  EXPECT_EQ(mlxft::fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(mlxft::fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(mlxft::fnv1a64("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(mlxft::fnv1a64_hex("a"), "af63dc4c8601ec8c");
}

TEST(Hash, AnotherBasisGivesAnotherHash) {
  EXPECT_NE(mlxft::fnv1a64("a", 1469598103934665603ull), mlxft::fnv1a64("a"));
}
