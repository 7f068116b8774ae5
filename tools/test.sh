#!/usr/bin/env bash
# Builds wengert and runs the whole test suite with CTest.
#   bash tools/test.sh              Release build in build/
#   bash tools/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-sanitize/,
#                                   for the baseline x86-64 instruction set (SSE2, no -march=native): with
#                                   the Release build's AVX2, CI runs the suite at both SIMD widths
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  build=build-sanitize
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWENGERT_SANITIZE=ON -DWENGERT_NATIVE=OFF -DWENGERT_BUILD_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure
