# Finds every dependency and exposes them as one interface target, mlxft::deps.
#  - MLX from the project venv (python -m mlx --cmake-dir); the backend (CPU,
#    CUDA, Metal) is whatever wheel setup-venv.sh installed.
#  - SentencePiece, yaml-cpp, nlohmann-json, CLI11, fmt, spdlog from Debian.
#  - OpenBLAS (Linux): linked directly into every program so its sgemm
#    interposes on the reference BLAS bundled in the mlx-cpu wheel (see
#    bench/matmul_bench.cpp and README "Performance" for the measured effect).

if(NOT EXISTS "${MLXFT_PYTHON}")
  message(FATAL_ERROR "No Python at ${MLXFT_PYTHON}: run 'make venv' (or scripts/setup-venv.sh) first")
endif()
execute_process(COMMAND "${MLXFT_PYTHON}" -m mlx --cmake-dir
                OUTPUT_VARIABLE MLX_CMAKE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _mlx_rc)
if(NOT _mlx_rc EQUAL 0)
  message(FATAL_ERROR "'${MLXFT_PYTHON} -m mlx --cmake-dir' failed: is MLX installed in the venv?")
endif()
find_package(MLX CONFIG REQUIRED PATHS "${MLX_CMAKE_DIR}" NO_DEFAULT_PATH)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)

add_library(mlxft_deps INTERFACE)
add_library(mlxft::deps ALIAS mlxft_deps)
target_link_libraries(mlxft_deps INTERFACE mlx PkgConfig::SENTENCEPIECE yaml-cpp
                      nlohmann_json::nlohmann_json CLI11::CLI11 fmt::fmt spdlog::spdlog
                      Threads::Threads ${CMAKE_DL_LIBS})
target_compile_options(mlxft_deps INTERFACE ${MLX_CXX_FLAGS})

if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  find_library(OPENBLAS_LIBRARY NAMES openblas)
  if(OPENBLAS_LIBRARY)
    message(STATUS "mlxft: OpenBLAS ${OPENBLAS_LIBRARY} interposes on MLX's bundled BLAS")
    target_link_libraries(mlxft_deps INTERFACE ${OPENBLAS_LIBRARY})
    target_compile_definitions(mlxft_deps INTERFACE MLXFT_HAVE_OPENBLAS=1)
  else()
    message(WARNING "mlxft: OpenBLAS not found; CPU matmuls use the wheel's BLAS (slow)")
  endif()
endif()
