// One-token decoding without MLX's graph: a whole step (embedding, every block, the head) computed on
// plain float32 buffers with the CPU kernels, for batch-1 generation on the CPU.
//
// Contract: DecodeStep::make() returns a stepper for a model it computes as forward() does, else null
// with the reason in `why_not` (the caller then decodes with forward()). It takes: the Llama/Mistral
// block and Qwen2's (q/k/v biases) and Qwen3's (q/k norms), without a sliding window (not Gemma 3's block
// or fused projections), float32 compute on the CPU kernels
// (cpu_kernels_apply(), kernel dtype float32), each projection, the embedding and the head either float32
// or affine-quantized with 4 or 8 bits in groups of a multiple of 32 (kernels/quantized_rows.h), RoPE of
// any scaling rope.h knows, and plain LoRA adapters (not DoRA) or none. MLXFT_NATIVE_DECODE=0 switches it
// off (the benchmarks' "before").
// start(cache) takes the rows of a KVCache that forward() filled (the prompts; a left-padded batch's rows
// without their padding, each row's RoPE positions kept as they were). step(tokens) feeds one token per
// row at its next position and returns the float32 logits [rows, V] (valid until the next call); keep(rows)
// drops the other rows (indices into the current ones, in order); add(cache) appends a cache's rows (each
// row keeps its own length: prompts prefilled one at a time decode together). The logits equal forward()'s on the same
// cache up to float rounding: the projections use the same few-row kernel (every row reads the weights
// once a step); RMSNorm, RoPE, attention and SiLU run in float32 with their own summation order. The
// projections and the (row, head) attention pairs are split over kernel_threads() (kernels/parallel.h);
// nothing of MLX runs during a step. A row's logits do not depend on the other rows (each row's sums run in
// the same order whatever the batch). offset() is the most positions any row has, padding included (as a
// KVCache counts them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mlxft/model/llama.h"

namespace mlxft {

class DecodeStep {
 public:
  static std::unique_ptr<DecodeStep> make(const Model& model, const LoraAdapters* lora,
                                          std::string* why_not = nullptr);
  virtual ~DecodeStep() = default;

  virtual void start(const KVCache& cache) = 0;
  virtual void add(const KVCache& cache) = 0;  // appends the cache's rows after the current ones
  virtual const float* step(const std::vector<int32_t>& tokens) = 0;
  virtual void keep(const std::vector<int32_t>& rows) = 0;
  virtual int rows() const = 0;
  virtual int offset() const = 0;
  virtual int vocab_size() const = 0;
};

}  // namespace mlxft
