#!/usr/bin/env bash
# Builds wengert and runs its main job.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/examples/digits
