#!/usr/bin/env bash
# Installs the Debian packages wengert needs, if any is missing (Debian 12).
# Sourced by run.sh and test.sh. As root no sudo is needed.
set -euo pipefail
packages=(cmake make g++ libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev doctest-dev
          libbenchmark-dev graphviz gnuplot-nox dataset-fashion-mnist zlib1g-dev
          libzip-dev      # nn's .npz checkpoints
          libopenmpi-dev openmpi-bin  # wengert::mpi (distributed/) and its mpirun tests
          chromium        # tests only: the tape viewer in a real browser (tests/autodiff/html_browser_test.cpp)
          python3-numpy)  # tests only: numpy.load reads a checkpoint (tests/nn/checkpoint_test.cpp)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
