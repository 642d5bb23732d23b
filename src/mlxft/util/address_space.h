// The process's address-space limit (`ulimit -v`, RLIMIT_AS) and how much of it is in use.
//
// Contract: a hard address-space limit counts every mapping, not just the memory in use: the
// libraries, each thread's stack, malloc's per-thread arenas, OpenBLAS's 128 MiB buffer per thread,
// mapped model files and MLX's buffers (and its cache of freed ones). Where it is reached, mmap and
// malloc fail; what mlxft then does is in util/blas.h (OpenBLAS, whose allocator would retry
// forever) and src/cli/memory_guard.h (MLX, whose CPU allocator would hand back a null buffer).
// address_space_limit() is the soft RLIMIT_AS in bytes, 0 when unlimited or unknown;
// address_space_used() is the size of every mapping now (VmSize from /proc/self/statm), 0 when
// unknown. describe_address_space() says both in words for error messages ("the address-space
// limit (ulimit -v) of 586 MiB, 402 MiB of it mapped"), empty when there is no limit.
// address_space_hint() is what to change when an allocation fails, as one line.
// AllocationFailed is the std::bad_alloc mlxft throws where a library gave no memory (MLX's
// allocator, oneDNN) or where mlxft sees no room for what a library would otherwise crash on; its
// what() says how many bytes and for what ("out of memory: could not allocate N bytes for X"). is_allocation_failure() is true for any std::bad_alloc and for the
// std::runtime_error MLX passes on in its place: MLX's CPU stream thread catches what its tasks
// throw and rethrows only the message ("std::bad_alloc", or AllocationFailed's) on the main thread.
// Code that turns exceptions into its own errors rethrows these instead, so that main says "memory".
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>

namespace mlxft {

uint64_t address_space_limit();
uint64_t address_space_used();

// Bytes as "586 MiB" (or "1.5 GiB", "12 KiB", "40 bytes").
std::string format_mib(double bytes);

std::string describe_address_space();

std::string address_space_hint();

class AllocationFailed : public std::bad_alloc {
 public:
  AllocationFailed(size_t bytes, const std::string& for_what);
  size_t bytes() const { return bytes_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  size_t bytes_;
  std::string what_;
};

bool is_allocation_failure(const std::exception& e);

// "96 MiB for MLX's arrays" where `e` is an AllocationFailed (or its message); nothing otherwise.
std::optional<std::string> allocation_failure_request(const std::exception& e);

// Throws AllocationFailed(bytes, for_what) where an address-space limit leaves less than `bytes`.
void require_address_space(size_t bytes, const std::string& for_what);

}  // namespace mlxft
