# What a backend wheel of MLX needs before find_package(MLX) works, so that no build needs hand steps.
# Included by Dependencies.cmake with MLX_CMAKE_DIR set (python -m mlx --cmake-dir). Sets
# MLXFT_MLX_BACKEND to cpu, cuda or metal (from what the wheel's MLXConfig.cmake asks for).
#  - cpu (mlx-cpu): nothing.
#  - cuda (mlx-cuda-12 / mlx-cuda-13): MLXConfig runs find_dependency(CUDAToolkit) and
#    find_dependency(CUDNN). cuDNN: the pip nvidia-cudnn package the wheel depends on
#    (site-packages/nvidia/cudnn/{include,lib}) unless CUDNN_INCLUDE_PATH / CUDNN_LIBRARY_PATH are given.
#    The toolkit: CUDAToolkit_ROOT or nvcc on PATH when given; else the newest /usr/local/cuda-<major>*
#    of the wheel's CUDA major (or /usr/local/cuda); else the pip CUDA runtime (site-packages/nvidia/cu13,
#    or cuda_runtime for CUDA 12) through cmake/pip-cuda/FindCUDAToolkit.cmake: a machine with the
#    driver alone configures and links. Nothing here adds a CUDA library to mlxft: libmlx.so's own RPATH
#    finds the pip CUDA libraries, and the build's RPATH finds libmlx.so (CMake's default for an
#    imported library outside the system directories). Without the driver's libcuda.so.1 the programs
#    link with --allow-shlib-undefined (MLXFT_MLX_LINK_OPTIONS).
#  - metal (mlx-metal, macOS arm64): nothing beyond the rpath to site-packages/mlx/lib (libmlx.dylib's
#    install name is @rpath/libmlx.dylib); MLX loads mlx.metallib from beside libmlx.dylib at run time.
get_filename_component(_mlxft_mlx_prefix "${MLX_CMAKE_DIR}/../../.." ABSOLUTE)  # site-packages/mlx
get_filename_component(_mlxft_site "${_mlxft_mlx_prefix}/.." ABSOLUTE)
file(READ "${MLX_CMAKE_DIR}/MLXConfig.cmake" _mlxft_mlx_config)
if(_mlxft_mlx_config MATCHES "if\\((ON|TRUE|1)\\)[ \t\r\n]*find_dependency\\(CUDAToolkit")
  set(MLXFT_MLX_BACKEND cuda)
elseif(_mlxft_mlx_config MATCHES "set\\(MLX_BUILD_METAL (ON|TRUE|1)\\)")
  set(MLXFT_MLX_BACKEND metal)
else()
  set(MLXFT_MLX_BACKEND cpu)
endif()
message(STATUS "mlxft: MLX backend ${MLXFT_MLX_BACKEND} (${_mlxft_mlx_prefix})")

if(MLXFT_MLX_BACKEND STREQUAL "cuda")
  # The wheel's CUDA major: mlx_cuda_13-*.dist-info or mlx_cuda_12-*.dist-info beside it.
  file(GLOB _mlxft_cuda_dist "${_mlxft_site}/mlx_cuda_1*.dist-info")
  set(_mlxft_cuda_major "")
  if(_mlxft_cuda_dist)
    list(GET _mlxft_cuda_dist 0 _mlxft_cuda_dist)
    string(REGEX MATCH "mlx_cuda_([0-9]+)" _ "${_mlxft_cuda_dist}")
    set(_mlxft_cuda_major "${CMAKE_MATCH_1}")
  endif()
  if(NOT CUDNN_INCLUDE_PATH AND EXISTS "${_mlxft_site}/nvidia/cudnn/include/cudnn.h")
    set(CUDNN_INCLUDE_PATH "${_mlxft_site}/nvidia/cudnn/include" CACHE PATH "cudnn.h (the pip nvidia-cudnn package)")
  endif()
  if(NOT CUDNN_LIBRARY_PATH AND EXISTS "${_mlxft_site}/nvidia/cudnn/lib")
    set(CUDNN_LIBRARY_PATH "${_mlxft_site}/nvidia/cudnn/lib" CACHE PATH "libcudnn (the pip nvidia-cudnn package)")
  endif()
  # find_library looks for libcudnn.so; the pip package has only libcudnn.so.9, which FindCUDNN also tries.
  find_program(_mlxft_nvcc nvcc)
  if(NOT CUDAToolkit_ROOT AND NOT DEFINED ENV{CUDAToolkit_ROOT} AND NOT _mlxft_nvcc)
    file(GLOB _mlxft_system_cuda LIST_DIRECTORIES true "/usr/local/cuda-${_mlxft_cuda_major}*")
    list(SORT _mlxft_system_cuda COMPARE NATURAL ORDER DESCENDING)
    list(APPEND _mlxft_system_cuda /usr/local/cuda)
    foreach(_dir ${_mlxft_system_cuda})
      if(EXISTS "${_dir}/bin/nvcc")
        set(CUDAToolkit_ROOT "${_dir}")
        break()
      endif()
    endforeach()
    if(NOT CUDAToolkit_ROOT)
      # No toolkit: the pip CUDA runtime's headers and libcudart (see the module's comment).
      foreach(_dir "${_mlxft_site}/nvidia/cu${_mlxft_cuda_major}" "${_mlxft_site}/nvidia/cuda_runtime")
        if(EXISTS "${_dir}/include/cuda_runtime_api.h")
          set(MLXFT_PIP_CUDA_ROOT "${_dir}")
          break()
        endif()
      endforeach()
      if(NOT MLXFT_PIP_CUDA_ROOT)
        message(FATAL_ERROR "mlxft: MLX's CUDA wheel needs the CUDA runtime headers: no nvcc on PATH, no "
                            "/usr/local/cuda*, no ${_mlxft_site}/nvidia/cu${_mlxft_cuda_major}. Rerun "
                            "scripts/setup-venv.sh (it installs nvidia-cuda-runtime) or pass -DCUDAToolkit_ROOT=...")
      endif()
      message(STATUS "mlxft: no CUDA toolkit; MLX's CUDA config is answered by the pip runtime ${MLXFT_PIP_CUDA_ROOT}")
      list(PREPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}/pip-cuda")
    endif()
  endif()
  if(CUDAToolkit_ROOT)
    message(STATUS "mlxft: CUDA toolkit ${CUDAToolkit_ROOT}, cuDNN headers ${CUDNN_INCLUDE_PATH}")
  endif()
  # libmlx.so needs libcuda.so.1, which only the NVIDIA driver installs; linking an executable checks
  # the undefined symbols of the shared libraries it links, so a build machine without the driver
  # failed with "undefined reference to cuModuleLoadDataEx" and the like. The driver resolves them at
  # run time; Dependencies.cmake adds MLXFT_MLX_LINK_OPTIONS to every program.
  find_library(_mlxft_libcuda NAMES libcuda.so.1 PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu
               /usr/lib64 /usr/local/nvidia/lib64 NO_CACHE)
  if(NOT _mlxft_libcuda)
    set(MLXFT_MLX_LINK_OPTIONS "LINKER:--allow-shlib-undefined")
    message(STATUS "mlxft: no libcuda.so.1 (no NVIDIA driver here): linking with --allow-shlib-undefined")
  endif()
endif()
