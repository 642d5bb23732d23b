# Finds every dependency and exposes them as one interface target, mlxft::deps.
#  - MLX from the project venv (python -m mlx --cmake-dir); the backend (CPU,
#    CUDA, Metal) is whatever wheel setup-venv.sh installed (MlxBackend.cmake prepares the CUDA
#    wheel's dependencies; MLXFT_MLX_BACKEND says which).
#  - SentencePiece, PCRE2 (BPE pre-tokenizer regexes), yaml-cpp, nlohmann-json, CLI11, fmt,
#    spdlog from Debian.
#  - oneDNN (x86-64 Linux, optional): the CPU kernels in src/mlxft/kernels.
#  - OpenBLAS (Linux): linked directly into every program so its sgemm
#    interposes on the reference BLAS bundled in the mlx-cpu wheel (see
#    bench/matmul_bench.cpp and README "Performance" for the measured effect).

if(NOT EXISTS "${MLXFT_PYTHON}")
  message(FATAL_ERROR "No Python at ${MLXFT_PYTHON}: run 'make venv' (or scripts/setup-venv.sh) first")
endif()
# Where `python -m mlx --cmake-dir` points, found without importing mlx.core: the CUDA wheel's module
# loads libcuda.so.1, which a machine without the NVIDIA driver (a build machine, CI) does not have.
execute_process(COMMAND "${MLXFT_PYTHON}" -c
                        "import importlib.util, os; s = importlib.util.find_spec('mlx'); print(os.path.join(list(s.submodule_search_locations)[0], 'share', 'cmake', 'MLX'))"
                OUTPUT_VARIABLE MLX_CMAKE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _mlx_rc)
if(NOT _mlx_rc EQUAL 0 OR NOT EXISTS "${MLX_CMAKE_DIR}/MLXConfig.cmake")
  message(FATAL_ERROR "No MLX CMake config in the venv of ${MLXFT_PYTHON} (looked in '${MLX_CMAKE_DIR}'): "
                      "install a backend wheel with scripts/setup-venv.sh (MLXFT_BACKEND=cpu|cuda12|cuda13|metal)")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/MlxBackend.cmake)  # the CUDA wheel's find_dependency traps
find_package(MLX CONFIG REQUIRED PATHS "${MLX_CMAKE_DIR}" NO_DEFAULT_PATH)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)

add_library(mlxft_deps INTERFACE)
add_library(mlxft::deps ALIAS mlxft_deps)
target_link_libraries(mlxft_deps INTERFACE mlx PkgConfig::SENTENCEPIECE PkgConfig::PCRE2 yaml-cpp
                      nlohmann_json::nlohmann_json CLI11::CLI11 fmt::fmt spdlog::spdlog
                      Threads::Threads ${CMAKE_DL_LIBS})
target_compile_options(mlxft_deps INTERFACE ${MLX_CXX_FLAGS})
target_link_options(mlxft_deps INTERFACE ${MLXFT_MLX_LINK_OPTIONS})  # MlxBackend.cmake

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

# oneDNN (Debian's libdnnl-dev, 2.6, v2 API), optional and x86-64 Linux only: the CPU kernels in
# src/mlxft/kernels use it when present (MLXFT_HAVE_DNNL); without it MLX's own ops run. The
# kernels' own loops use std::thread (oneDNN itself brings its OpenMP runtime, libgomp).
option(MLXFT_DNNL "Use oneDNN for the CPU kernels when it is installed" ON)
if(MLXFT_DNNL AND CMAKE_SYSTEM_NAME STREQUAL "Linux" AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  # Header and library directly: Debian's dnnl-config.cmake also demands the OpenCL headers.
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DNNL_LIBRARY NAMES dnnl)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
    message(STATUS "mlxft: oneDNN ${DNNL_LIBRARY} found: CPU kernels use it")
    target_link_libraries(mlxft_deps INTERFACE ${DNNL_LIBRARY})
    # Only the kernels (and util/cpu_features.cpp, which reports it) see the definition (the rest of the build keeps its flags and its ccache).
    file(GLOB _mlxft_kernel_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/mlxft/kernels/*.cpp)
    list(APPEND _mlxft_kernel_sources ${CMAKE_SOURCE_DIR}/src/mlxft/util/cpu_features.cpp)  # have_onednn()
    set_source_files_properties(${_mlxft_kernel_sources} PROPERTIES COMPILE_DEFINITIONS MLXFT_HAVE_DNNL=1)
    if(NOT DNNL_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
      set_property(SOURCE ${_mlxft_kernel_sources} APPEND PROPERTY INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
    endif()
    set(MLXFT_HAVE_DNNL ON)
  else()
    message(STATUS "mlxft: oneDNN not found (libdnnl-dev): CPU kernels fall back to MLX ops")
  endif()
endif()
