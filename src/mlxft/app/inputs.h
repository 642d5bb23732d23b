// The inputs of a train run: tokenizer, data split, base model and adapters, from the recipe.
//
// Contract:
// - load_inputs() resolves model.path into a model source (model/source.h), loads its tokenizer
//   (tokenizer/load.h) and the chat format data.chat_format names ("auto": the one the model's chat
//   template calls for, chat/model_format.h), the tool catalogue of data.tools (none, infer: from every
//   call of data.dataset_path, or a JSON file; data.tools_compact; offered to records without tools,
//   data.tools_per_prompt of it at a time, seeded by data.seed), and the dataset with the recipe's data
//   options; with
//   data.valid_path the whole dataset trains and valid comes from that file, else the dataset is split by
//   data.valid_split / test_split and data.seed; data.test_path replaces the test split. Skipped records are
//   a warning; each data warning is logged at debug. No training example after the split is a Data error.
// - load_base_model() loads model.path in model.dtype ("auto": the device's default).
// - build_adapters() returns new adapters initialised as PEFT does from training.seed, or the
//   --init-adapter (else training.init_adapter) directory (PEFT or mlx-lm format, checked against the
//   model) with lora.dropout.
#pragma once

#include <memory>
#include <string>

#include "mlxft/chat/chat_format.h"
#include "mlxft/config/recipe.h"
#include "mlxft/data/dataset.h"
#include "mlxft/data/split.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"

namespace mlxft {

struct RunInputs {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatFormat> chat;  // over *tokenizer
  DataReport report;                 // of data.dataset_path
  Split split;
  std::shared_ptr<const OrderedJson> catalogue;  // data.tools; null: none
};

DataOptions data_options_from(const DataSection& data);
RunInputs load_inputs(const Recipe& recipe);
Model load_base_model(const Recipe& recipe);
LoraAdapters build_adapters(const Recipe& recipe, const Model& model, const std::string& init_adapter);

}  // namespace mlxft
