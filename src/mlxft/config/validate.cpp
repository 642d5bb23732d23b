#include "mlxft/config/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mlxft/config/schema.h"

namespace mlxft {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(name, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::vector<std::string> validate_recipe(const Recipe& recipe) {
  std::vector<std::string> errors;
  for (const auto& field : recipe_schema()) {
    for (const auto& problem : field.check(recipe)) errors.push_back(field.name() + " " + problem);
  }
  const DataSection& d = recipe.data;
  // Training takes what the validation and test splits leave (data/split.cpp).
  if (d.valid_split + d.test_split >= 1.0) {
    errors.push_back(fmt::format("data.valid_split + data.test_split is {}, must be below 1 (the rest trains)",
                                 d.valid_split + d.test_split));
  }
  if (recipe.training.objective == "kto") {
    if (d.labels != "all") {
      errors.push_back(fmt::format(
          "data.labels is {}, but training.objective kto learns from desirable and undesirable examples: "
          "set data.labels: all",
          d.labels));
    }
    if (recipe.training.batch_size < 2) {
      errors.push_back(
          "training.batch_size must be >= 2 for training.objective kto (the KL reference point pairs each "
          "prompt with another example's completion in the same micro-batch)");
    }
  }
  const auto& formats = recipe.output.export_formats;
  if (recipe.lora.kind == "dora" && std::find(formats.begin(), formats.end(), "gguf-lora") != formats.end()) {
    errors.push_back(
        "output.export has gguf-lora, but llama.cpp's adapter GGUF cannot hold lora.kind dora: "
        "export gguf (the merged model) instead");
  }
  if (recipe.evaluation.early_stopping_patience > 0 && d.valid_path.empty() && d.valid_split <= 0.0) {
    errors.push_back(
        "evaluation.early_stopping_patience needs validation data: set data.valid_split > 0 "
        "or data.valid_path");
  }
  return errors;
}

}  // namespace mlxft
