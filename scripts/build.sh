#!/usr/bin/env bash
# Installs the dependencies (if missing) and builds everything into build/.
# Works from any directory. Extra CMake configure arguments come through the
# environment, e.g.  CMAKE_ARGS="-DCMAKE_PREFIX_PATH=/opt/libtorch" scripts/build.sh
set -euo pipefail

# The repository root is the parent of this script's directory.
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bash scripts/install-deps.sh

# Configure only once: later builds reuse the cache (CMake re-runs itself when
# a CMakeLists.txt changes). Delete build/ to configure afresh.
if [[ ! -f build/CMakeCache.txt ]]; then
  # shellcheck disable=SC2086  # CMAKE_ARGS is a list of words on purpose
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi

cmake --build build -j"$(nproc)"
