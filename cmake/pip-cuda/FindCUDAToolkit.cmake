# FindCUDAToolkit for a machine with the NVIDIA driver and the pip CUDA packages but no CUDA toolkit.
#
# Only cmake/MlxBackend.cmake puts this folder on CMAKE_MODULE_PATH, and only when MLX is a CUDA wheel
# and no toolkit was found (no nvcc on PATH, no CUDAToolkit_ROOT, no /usr/local/cuda*). MLX's CMake
# config asks for the toolkit (find_dependency(CUDAToolkit)) but its `mlx` target links no CUDA target:
# mlxft only compiles C++ against MLX's headers and links libmlx.so, whose RPATH finds the pip CUDA
# libraries. So the runtime headers and libraries of the pip packages (MLXFT_PIP_CUDA_ROOT, e.g.
# site-packages/nvidia/cu13) answer the question: the version comes from cuda_runtime_api.h.
# Defines what FindCUDAToolkit defines that a consumer reads (no CUDA:: targets, no nvcc).
find_path(CUDAToolkit_INCLUDE_DIR cuda_runtime_api.h HINTS "${MLXFT_PIP_CUDA_ROOT}/include" NO_DEFAULT_PATH)
find_library(CUDAToolkit_CUDART_LIBRARY NAMES cudart libcudart.so.13 libcudart.so.12
             HINTS "${MLXFT_PIP_CUDA_ROOT}/lib" NO_DEFAULT_PATH)
if(CUDAToolkit_INCLUDE_DIR)
  file(STRINGS "${CUDAToolkit_INCLUDE_DIR}/cuda_runtime_api.h" _cudart_version REGEX "define CUDART_VERSION")
  string(REGEX MATCH "[0-9]+" _cudart_version "${_cudart_version}")
  if(_cudart_version)
    math(EXPR CUDAToolkit_VERSION_MAJOR "${_cudart_version} / 1000")
    math(EXPR CUDAToolkit_VERSION_MINOR "(${_cudart_version} % 1000) / 10")
    set(CUDAToolkit_VERSION_PATCH 0)
    set(CUDAToolkit_VERSION "${CUDAToolkit_VERSION_MAJOR}.${CUDAToolkit_VERSION_MINOR}.0")
  endif()
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDAToolkit REQUIRED_VARS CUDAToolkit_INCLUDE_DIR CUDAToolkit_CUDART_LIBRARY
                                  VERSION_VAR CUDAToolkit_VERSION)
if(CUDAToolkit_FOUND)
  set(CUDAToolkit_INCLUDE_DIRS "${CUDAToolkit_INCLUDE_DIR}")
  get_filename_component(CUDAToolkit_LIBRARY_DIR "${CUDAToolkit_CUDART_LIBRARY}" DIRECTORY)
  get_filename_component(CUDAToolkit_LIBRARY_ROOT "${CUDAToolkit_INCLUDE_DIR}" DIRECTORY)
endif()
