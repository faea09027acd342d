#!/usr/bin/env bash
# Builds stiffness and runs the default job (jobs/quickstart.ini) on 2 MPI
# ranks, writing results/quickstart.h5; then prints its measurements as a
# table (`stiffness summary`) and draws the aggregate figures of the run with
# their report page (`stiffness aggregate` -> results/quickstart-aggregate/).
# Works from any directory.
set -euo pipefail

# The repository root is the parent of this script's directory.
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bash scripts/build.sh

# Open MPI refuses to start as root unless told that this is intended (the
# usual case in containers and on a fresh cloud machine).
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

mkdir -p results
# --oversubscribe: allow 2 ranks even on a machine with a single core.
mpiexec -n 2 --oversubscribe build/stiffness train \
  --config jobs/quickstart.ini --output results/quickstart.h5 --overwrite

echo
# The measurements (train-train pairs; --pair-set all for the others).
build/stiffness summary results/quickstart.h5
echo
build/stiffness aggregate results/quickstart.h5 --output-dir results/quickstart-aggregate
echo
echo "Results: $(pwd)/results/quickstart.h5"
echo "Figures: $(pwd)/results/quickstart-aggregate/ (open index.html in a browser: table and every figure)"
echo "Table:   build/stiffness summary results/quickstart.h5 [--format csv|jsonl]"
