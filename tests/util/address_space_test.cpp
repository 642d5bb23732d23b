#include "mlxft/util/address_space.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace mlxft {
namespace {

TEST(AddressSpace, SizesReadAsMiB) {
  EXPECT_EQ(format_mib(600000.0 * 1024), "586 MiB");
  EXPECT_EQ(format_mib(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
  EXPECT_EQ(format_mib(96.0 * 1024), "96 KiB");
  EXPECT_EQ(format_mib(40.0), "40 bytes");
}

TEST(AddressSpace, TheProcessMapsSomething) {
  EXPECT_GT(address_space_used(), uint64_t{1} << 20);
}

// MLX's CPU stream thread passes an exception on as std::runtime_error(what()): both the original and
// that copy count as an allocation failure, and the request survives the copy.
TEST(AllocationFailure, RecognisedAlsoAsTheMessageMlxPassesOn) {
  const AllocationFailed failed(size_t{96} << 20, "MLX's arrays");
  EXPECT_TRUE(is_allocation_failure(failed));
  EXPECT_EQ(allocation_failure_request(failed).value_or(""), "96 MiB for MLX's arrays");
  const std::runtime_error passed_on(failed.what());
  EXPECT_TRUE(is_allocation_failure(passed_on));
  EXPECT_EQ(allocation_failure_request(passed_on).value_or(""), "96 MiB for MLX's arrays");
  EXPECT_TRUE(is_allocation_failure(std::runtime_error("std::bad_alloc")));
  EXPECT_TRUE(is_allocation_failure(std::bad_alloc()));
  EXPECT_FALSE(allocation_failure_request(std::bad_alloc()).has_value());
  EXPECT_FALSE(is_allocation_failure(std::runtime_error("shape mismatch")));
  EXPECT_EQ(allocation_failure_request(AllocationFailed(0, "a oneDNN matmul's scratchpad")).value_or(""),
            "memory for a oneDNN matmul's scratchpad");
}

}  // namespace
}  // namespace mlxft
