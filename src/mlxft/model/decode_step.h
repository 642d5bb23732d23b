// One-token decoding without MLX's graph: a whole step (embedding, every block, the head) computed on
// plain float32 buffers with the CPU kernels, for batch-1 generation on the CPU.
//
// Contract: DecodeStep::make() returns a stepper for a model it computes as forward() does, else null
// with the reason in `why_not` (the caller then decodes with forward()). It takes: the Llama/Mistral
// block (no bias, q/k norm, sliding window or Gemma norms), float32 compute on the CPU kernels
// (cpu_kernels_apply(), kernel dtype float32), each projection, the embedding and the head either float32
// or affine-quantized with 4 or 8 bits in groups of a multiple of 32 (kernels/quantized_rows.h), RoPE of
// any scaling rope.h knows, and plain LoRA adapters (not DoRA) or none. MLXFT_NATIVE_DECODE=0 switches it
// off (the benchmarks' "before").
// start(cache) copies positions 0 .. cache.offset of a batch-1 KVCache that forward() filled (the prompt);
// each step(token) then feeds one token at the next position and returns the float32 logits [V] of it
// (valid until the next call). They equal forward()'s up to float rounding: the projections use the same
// few-row kernel; RMSNorm, RoPE, attention and SiLU run in float32 with their own summation order. The
// projections and the attention heads are split over kernel_threads() (kernels/parallel.h); nothing else
// of MLX runs during a step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mlxft/model/llama.h"

namespace mlxft {

class DecodeStep {
 public:
  static std::unique_ptr<DecodeStep> make(const Model& model, const LoraAdapters* lora,
                                          std::string* why_not = nullptr);
  virtual ~DecodeStep() = default;

  virtual void start(const KVCache& cache) = 0;
  virtual const float* step(int32_t token) = 0;
  virtual int offset() const = 0;  // positions cached
  virtual int vocab_size() const = 0;
};

}  // namespace mlxft
