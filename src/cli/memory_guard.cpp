#include "cli/memory_guard.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <fmt/format.h>
#include <mlx/allocator.h>
#include <mlx/memory.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <optional>
#include <thread>

#include "mlxft/util/address_space.h"

namespace mlxft::cli {
namespace {

using mlx::core::allocator::Allocator;
using mlx::core::allocator::Buffer;

std::thread::id g_main_thread;

Allocator& mlx_allocator() {
  static Allocator* inner = [] {
    using Fn = Allocator& (*)();
    auto* fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "_ZN3mlx4core9allocator9allocatorEv"));
    if (fn == nullptr) {
      std::fprintf(stderr, "mlxft: internal error: MLX's allocator not found (%s)\n", dlerror());
      std::abort();
    }
    return &fn();
  }();
  return *inner;
}

class GuardedAllocator : public Allocator {
 public:
  Buffer malloc(size_t size) override {
    Buffer b = mlx_allocator().malloc(size);
    if (size == 0 || b.ptr() != nullptr) return b;
    if (std::this_thread::get_id() == g_main_thread) {
      mlx::core::clear_cache();  // released buffers MLX keeps for reuse hold address space too
      b = mlx_allocator().malloc(size);
      if (b.ptr() != nullptr) return b;
    }
    throw AllocationFailed(size, "MLX's arrays");
  }
  void free(Buffer buffer) override { mlx_allocator().free(buffer); }
  size_t size(Buffer buffer) const override { return mlx_allocator().size(buffer); }
  Buffer make_buffer(void* ptr, size_t size) override { return mlx_allocator().make_buffer(ptr, size); }
  void release(Buffer buffer) override { mlx_allocator().release(buffer); }
};

[[noreturn]] void on_terminate() {
  const std::exception_ptr current = std::current_exception();
  if (!current) {
    std::fputs("mlxft: internal error: std::terminate without an exception\n", stderr);
    std::abort();
  }
  try {
    std::rethrow_exception(current);
  } catch (const std::exception& e) {
    if (!is_allocation_failure(e)) {
      std::fprintf(stderr, "mlxft: internal error: uncaught exception: %s\n", e.what());
      std::abort();
    }
    std::fflush(stdout);
    std::fputs(allocation_failure_message(e).c_str(), stderr);
    std::fflush(stderr);
    std::_Exit(1);
  } catch (...) {
    std::fputs("mlxft: internal error: an uncaught exception of unknown type\n", stderr);
  }
  std::abort();
}

// The last resort under an address-space limit: a library that does not check an allocation (oneDNN's
// JIT, MLX paths that bypass the allocator) crashes on the null pointer. Only async-signal-safe calls.
uint64_t g_limit = 0;
char g_hint[1024];

void put(const char* s) { (void)!write(STDERR_FILENO, s, std::strlen(s)); }

void put_mib(uint64_t bytes) {
  char digits[24];
  int n = 0;
  uint64_t v = bytes >> 20;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 23);
  char out[32];
  for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
  std::memcpy(out + n, " MiB", 5);
  put(out);
}

uint64_t mapped_bytes_signal_safe() {
  const int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  uint64_t pages = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pages = pages * 10 + static_cast<uint64_t>(buf[i] - '0');
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void on_segv(int, siginfo_t*, void*) {
  put("mlxft: memory error: a library crashed (SIGSEGV) under the address-space limit (ulimit -v) of ");
  put_mib(g_limit);
  put(", ");
  put_mib(mapped_bytes_signal_safe());
  put(" of it mapped: most likely on an allocation that failed and that it did not check\n  hint: ");
  put(g_hint);
  put("\n");
  _exit(1);
}

void install_segv_handler() {
  g_limit = address_space_limit();
  if (g_limit == 0) return;
  const std::string hint = address_space_hint();
  std::snprintf(g_hint, sizeof g_hint, "%s", hint.c_str());
  static char alt_stack[64 * 1024];  // a crash from a full stack still gets its message out
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
}

}  // namespace

void install_memory_guard() {
  g_main_thread = std::this_thread::get_id();
  std::set_terminate(on_terminate);
  install_segv_handler();
}

std::string allocation_failure_message(const std::exception& e) {
  const std::optional<std::string> request = allocation_failure_request(e);
  const std::string what = request ? "could not allocate " + *request : std::string("an allocation failed");
  const std::string limit = describe_address_space();
  return fmt::format("mlxft: memory error: {}{}: not enough memory for this model and run\n  hint: {}\n", what,
                     limit.empty() ? "" : " under " + limit, address_space_hint());
}

}  // namespace mlxft::cli

// The interposition (see memory_guard.h): libmlx.so's own calls land here.
namespace mlx::core::allocator {
Allocator& allocator() {
  static auto* guarded = new mlxft::cli::GuardedAllocator;  // never destroyed: MLX frees arrays at exit
  return *guarded;
}
}  // namespace mlx::core::allocator
