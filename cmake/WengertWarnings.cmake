# Warnings for wengert's own targets (not for consumers).
function(wengert_warnings target)
  # -Wno-restrict: a GCC 12 false positive in libstdc++ reached through xtensor's printer (xio.hpp).
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-restrict)
endfunction()
