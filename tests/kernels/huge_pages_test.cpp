// advise_huge_pages: the 2 MiB-aligned interior of a large buffer is marked for transparent huge
// pages (VmFlags "hg" in /proc/self/smaps), small buffers and the unaligned edges are left alone.
#include "mlxft/kernels/huge_pages.h"

#include <gtest/gtest.h>

#if defined(__linux__)
#include <sys/mman.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace {

constexpr uintptr_t kHuge = uintptr_t{2} << 20;

// The VmFlags line of the mapping that holds address `a` (empty when none is found).
std::string vm_flags_at(uintptr_t a) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= a && a < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

bool has_flag(const std::string& flags, const std::string& flag) {
  std::istringstream words(flags);
  std::string w;
  while (words >> w)
    if (w == flag) return true;
  return false;
}

// 12 MiB of fresh anonymous memory, starting 2 MiB-aligned (over-map, then trim the edges).
struct Region {
  Region() {
    void* raw = mmap(nullptr, 16 * kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return;
    base = (reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1);
    raw_ = raw;
  }
  ~Region() {
    if (raw_) munmap(raw_, 16 * kHuge);
  }
  uintptr_t base = 0;
  void* raw_ = nullptr;
};

// A kernel built with transparent huge pages (whatever its current setting) records the advice.
bool thp_available() {
  return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good();
}

TEST(HugePages, MarksTheAlignedInteriorOfALargeBuffer) {
  if (!thp_available()) GTEST_SKIP() << "this Linux kernel has no transparent huge pages";
  Region r;
  ASSERT_NE(r.base, 0u);
  // [base + 100, base + 100 + 6 MiB): its aligned interior is [base + 2 MiB, base + 6 MiB).
  mlxft::kernels::advise_huge_pages(reinterpret_cast<void*>(r.base + 100), 3 * kHuge);
  EXPECT_TRUE(has_flag(vm_flags_at(r.base + kHuge), "hg")) << vm_flags_at(r.base + kHuge);
  EXPECT_TRUE(has_flag(vm_flags_at(r.base + 2 * kHuge + 5), "hg"));
  EXPECT_FALSE(has_flag(vm_flags_at(r.base + 50), "hg")) << "the unaligned head stays as it was";
  EXPECT_FALSE(has_flag(vm_flags_at(r.base + 3 * kHuge + 200), "hg")) << "past the aligned end";
}

TEST(HugePages, LeavesSmallBuffersAlone) {
  if (!thp_available()) GTEST_SKIP() << "this Linux kernel has no transparent huge pages";
  Region r;
  ASSERT_NE(r.base, 0u);
  mlxft::kernels::advise_huge_pages(reinterpret_cast<void*>(r.base), 2 * kHuge - 1);
  EXPECT_FALSE(has_flag(vm_flags_at(r.base), "hg"));
  mlxft::kernels::advise_huge_pages(nullptr, 64 * kHuge);  // no buffer: nothing to do, no crash
}

}  // namespace
#endif
