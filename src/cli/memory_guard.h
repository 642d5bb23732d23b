// What the program does when memory runs out: a clear error and exit status 1, never a crash.
//
// Contract: MLX's CPU allocator (mlx 0.32, backend/no_gpu) hands back a null buffer when malloc
// fails, and MLX then writes through it (SIGSEGV, no message). The program therefore defines
// mlx::core::allocator::allocator() itself: libmlx.so calls that function through its PLT, so this
// definition interposes on MLX's for the whole process. It returns a wrapper around MLX's own
// allocator (found with dlsym(RTLD_NEXT)) whose malloc, where MLX's gave no memory, frees MLX's cache
// of released buffers and tries once more (on the main thread only: freeing the cache waits for the
// CPU stream), then throws AllocationFailed (util/address_space.h), a std::bad_alloc that says how many bytes
// it wanted.
// Everything else (free, sizes, the cache, peak memory) stays MLX's. tests/scripts/memory_limit_test.sh
// proves the interposition takes: a run under `ulimit -v` ends with this message, not SIGSEGV.
// install_memory_guard(), first in main(), records the main thread and makes std::terminate print
// the same message and exit 1 where a std::bad_alloc escapes another thread (MLX's CPU stream
// thread catches what its tasks throw and passes on only the message, which main recognises with
// is_allocation_failure(); terminate is for threads that do not catch), and, under an
// address-space limit only, turns SIGSEGV into the same kind of message and exit status 1: the last
// resort for a library that crashes on an allocation it does not check (oneDNN's JIT did; the
// kernels now check the room first, kernels/onednn.h). allocation_failure_message()
// is that message: what ran out (the request, the address-space limit and how much is mapped) and a hint.
#pragma once

#include <exception>
#include <string>

namespace mlxft::cli {

void install_memory_guard();

// "mlxft: memory error: ...\n  hint: ...\n" for `e`, where is_allocation_failure(e) (util/address_space.h).
std::string allocation_failure_message(const std::exception& e);

}  // namespace mlxft::cli
