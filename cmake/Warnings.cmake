# Warnings as errors for the project's own targets (not for dependencies).
function(mlxft_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wold-style-cast -Werror)
endfunction()
