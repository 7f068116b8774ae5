# Warnings for wengert's own targets (not for consumers).
function(wengert_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()
