// Transparent huge pages for the kernels' large buffers (internal to kernels/).
//
// Contract: advise_huge_pages(p, bytes) asks Linux to back the 2 MiB-aligned interior of [p, p + bytes)
// with transparent huge pages (madvise MADV_HUGEPAGE) when bytes >= 4 MiB; a no-op elsewhere, for
// smaller buffers, and when the kernel refuses (THP off). Call it before the first write: fresh
// buffers from malloc are mmap'd pages that fault in 4 KiB at a time; huge pages fault in 2 MiB at a
// time. Contents and sizes do not change.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mlxft::kernels {

inline void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (p == nullptr || bytes < 2 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace mlxft::kernels
