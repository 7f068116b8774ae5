#!/usr/bin/env bash
# Builds wengert and runs the whole test suite with CTest.
#   bash tools/test.sh              Release build in build/
#   bash tools/test.sh --tsan       ThreadSanitizer build in build-tsan/ of the tests that use threads
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
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
if [ "${1:-}" = "--tsan" ]; then
  # ThreadSanitizer on the tests that use threads (per-thread tapes and pools, frees from
  # another thread). OpenBLAS is not instrumented: these tests keep it on one thread.
  build=build-tsan
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWENGERT_NATIVE=OFF -DWENGERT_BUILD_BENCH=OFF \
    -DWENGERT_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
    >/dev/null
  cmake --build "$build" -j"$(nproc)" --target autodiff_tests
  TSAN_OPTIONS=halt_on_error=1 OPENBLAS_NUM_THREADS=1 "$build/tests/autodiff_tests" -tc='*thread*'
  exit 0
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure
