#include "mlxft/util/address_space.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

#ifdef __linux__
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace mlxft {

uint64_t address_space_limit() {
#ifdef __linux__
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<uint64_t>(lim.rlim_cur);
#else
  return 0;
#endif
}

uint64_t address_space_used() {
#ifdef __linux__
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  const int n = std::fscanf(f, "%llu", &pages);
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);
  return n == 1 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
#else
  return 0;
#endif
}

std::string format_mib(double bytes) {
  const double mib = bytes / (1024.0 * 1024.0);
  if (bytes < 1024.0) return fmt::format("{:.0f} bytes", bytes);
  if (mib < 1.0) return fmt::format("{:.0f} KiB", bytes / 1024.0);
  return mib >= 1024.0 ? fmt::format("{:.1f} GiB", mib / 1024.0) : fmt::format("{:.0f} MiB", mib);
}

std::string describe_address_space() {
  const uint64_t limit = address_space_limit();
  if (limit == 0) return "";
  const uint64_t used = address_space_used();
  std::string s = "the address-space limit (ulimit -v) of " + format_mib(static_cast<double>(limit));
  if (used > 0) s += ", " + format_mib(static_cast<double>(used)) + " of it mapped";
  return s;
}

std::string address_space_hint() {
  std::string hint =
      "use smaller batches or shorter sequences (training.batch_size and data.max_seq_length; --batch-size for "
      "eval; a shorter prompt or --max-tokens for generate), set training.gradient_checkpointing: true, use a "
      "4-bit base (model.quantize or a Q4 GGUF)";
  hint += address_space_limit() > 0 ? ", or raise the limit (ulimit -v)"
                                    : ", or free memory; system.memory_limit_gb sets the budget the estimate checks";
  return hint;
}

namespace {
constexpr const char* kAllocationFailed = "out of memory: could not allocate ";
}

AllocationFailed::AllocationFailed(size_t bytes, const std::string& for_what)
    : bytes_(bytes), what_(kAllocationFailed + std::to_string(bytes) + " bytes for " + for_what) {}

bool is_allocation_failure(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  const char* w = e.what();
  return std::strcmp(w, "std::bad_alloc") == 0 || std::strncmp(w, kAllocationFailed, std::strlen(kAllocationFailed)) == 0;
}

std::optional<std::string> allocation_failure_request(const std::exception& e) {
  const char* w = e.what();
  const size_t n = std::strlen(kAllocationFailed);
  if (std::strncmp(w, kAllocationFailed, n) != 0) return std::nullopt;
  unsigned long long bytes = 0;
  int used = 0;
  if (std::sscanf(w + n, "%llu bytes for %n", &bytes, &used) != 1 || used == 0) return std::nullopt;
  return (bytes > 0 ? format_mib(static_cast<double>(bytes)) : std::string("memory")) + " for " +
         std::string(w + n + used);
}

void require_address_space(size_t bytes, const std::string& for_what) {
  const uint64_t limit = address_space_limit();
  if (limit == 0) return;
  const uint64_t used = address_space_used();
  if (used > 0 && used < limit && limit - used >= bytes) return;
  throw AllocationFailed(bytes, for_what);
}

}  // namespace mlxft
