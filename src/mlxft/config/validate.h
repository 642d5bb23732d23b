// Validation of a whole recipe: every field against its schema row, then the rules that tie
// fields together (splits that sum to 1, a valid split when evaluation needs one).
//
// Contract: validate_recipe() returns one message per problem, each starting with the
// section.key it is about; empty means valid. It never throws. load_recipe() calls it; code that
// builds a Recipe by hand can call it too.
#pragma once

#include <string>
#include <vector>

#include "mlxft/config/recipe.h"

namespace mlxft {

std::vector<std::string> validate_recipe(const Recipe& recipe);

// The closest name to `name` among `candidates` when it is close enough to be a typo, else "".
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace mlxft
