# Warnings as errors for the project's own targets (not for dependencies).
# -Wno-restrict: g++ 12 reports false -Wrestrict errors inside libstdc++'s
# std::string at -O3 (GCC bug 105329).
function(mlxft_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Werror
                         $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
endfunction()
