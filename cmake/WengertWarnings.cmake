# Warnings for wengert's own targets (not for consumers).
function(wengert_warnings target)
  # -Wno-restrict, -Wno-stringop-overflow: GCC 12 false positives in libstdc++'s string insert,
  # reached through xtensor's printer (xio.hpp); the second shows where <nn/nn.hpp> is precompiled.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-restrict -Wno-stringop-overflow)
endfunction()
