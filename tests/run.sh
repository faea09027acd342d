#!/usr/bin/env bash
# Builds (installing dependencies if needed) and runs the whole test suite.
# Arguments go to ctest, e.g.  tests/run.sh -R unit_analysis   or   -L mpi
set -euo pipefail

# The repository root is the parent of this script's directory.
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bash scripts/build.sh
# Whether the NCCL communicator was compiled (CI has the CUDA toolkit but no GPU).
cat build/gpu-backend.txt 2>/dev/null || true

# One test at a time: the MPI and CLI tests start several ranks each and
# would oversubscribe the cores if run in parallel. --timeout bounds every
# test that sets no TIMEOUT of its own, so a hung MPI job cannot stall CI.
status=0
ctest --test-dir build --output-on-failure -j1 --timeout 900 "$@" || status=$?
exit "$status"
