// libFuzzer target: any bytes as a JSONL data file, through validation,
// the plain-text tool-call conversion (both modes) and the v3 renderer. The only
// acceptable failure is mlxft::Error; invariants of every kept example are
// checked (ids and mask aligned, <s> first and untrained).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "mlxft/chat/mistral_v3.h"
#include "mlxft/data/dataset.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"

namespace {

const mlxft::ChatFormat& chat() {
  static const auto tok = mlxft::SentencePieceTokenizer::load(MLXFT_V3_TOKENIZER);
  static const mlxft::MistralV3Format format(tok);
  return format;
}

void check(const mlxft::Dataset& ds) {
  for (const auto* list : {&ds.examples, &ds.held_out}) {
    for (const auto& e : *list) {
      if (e.ids.size() != e.mask.size() || e.ids.empty() || e.ids[0] != 1 || e.mask[0] != 0) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mlxft::DataOptions options;
  options.min_examples = 0;
  options.max_seq_length = 512;
  options.labels = mlxft::LabelFilter::All;
  for (auto mode : {mlxft::ToolFormat::Native, mlxft::ToolFormat::Text}) {
    options.tool_format = mode;
    try {
      check(mlxft::load_dataset_from_text(text, "fuzz.jsonl", chat(), options));
    } catch (const mlxft::Error&) {
    }
  }
  return 0;
}
