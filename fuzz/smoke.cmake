# The fuzz targets in the normal build (any compiler), each with smoke_main.cpp as its driver, and a
# ctest per target (fuzz.smoke.NAME: the seed corpus plus a few seconds of random mutations) so `make
# test` catches a target that no longer builds or crashes at once. `make fuzz` is the real fuzzing.
include(${CMAKE_SOURCE_DIR}/tests/ReferenceFiles.cmake)
file(GLOB MLXFT_FUZZ_SMOKE_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
set(MLXFT_FUZZ_SMOKE_SECONDS 3 CACHE STRING "Seconds of mutations per fuzz target in the ctest smoke")
foreach(source ${MLXFT_FUZZ_SMOKE_SOURCES})
  get_filename_component(name ${source} NAME_WE)
  string(REGEX REPLACE "_fuzz$" "" short ${name})
  add_executable(${name}_smoke ${source} ${CMAKE_SOURCE_DIR}/fuzz/smoke_main.cpp)
  target_link_libraries(${name}_smoke PRIVATE mlxft_core)
  target_compile_definitions(${name}_smoke PRIVATE MLXFT_V3_TOKENIZER="${MLXFT_V3_TOKENIZER}"
    MLXFT_SMOLLM2_GGUF="${MLXFT_SMOLLM2_GGUF}" MLXFT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  set_target_properties(${name}_smoke PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-smoke)
  add_test(NAME fuzz.smoke.${short}
           COMMAND ${name}_smoke ${MLXFT_FUZZ_SMOKE_SECONDS} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${short})
  set_tests_properties(fuzz.smoke.${short} PROPERTIES TIMEOUT 120)
endforeach()
