// The prelude every CPU kernel primitive's eval_cpu shares (internal to kernels/).
//
// Contract: prepare_cpu_eval(stream, in, out) allocates each output's buffer (large ones advised to
// use transparent huge pages, huge_pages.h), registers the inputs and outputs with the CPU command
// encoder of `stream` (MLX then keeps them alive until the queued work has run and orders it after
// their producers) and returns that encoder for the caller's dispatch() of the kernel itself.
#pragma once

#include <mlx/backend/cpu/encoder.h>
#include <mlx/mlx.h>

#include <vector>

#include "mlxft/kernels/huge_pages.h"

namespace mlxft::kernels {

inline mlx::core::cpu::CommandEncoder& prepare_cpu_eval(const mlx::core::Stream& stream,
                                                        const std::vector<mlx::core::array>& in,
                                                        std::vector<mlx::core::array>& out) {
  for (auto& o : out) {
    o.set_data(mlx::core::allocator::malloc(o.nbytes()));
    advise_huge_pages(o.data<void>(), o.nbytes());
  }
  auto& encoder = mlx::core::cpu::get_command_encoder(stream);
  for (const auto& a : in) encoder.set_input_array(a);
  for (auto& o : out) encoder.set_output_array(o);
  return encoder;
}

}  // namespace mlxft::kernels
