#!/usr/bin/env bash
# Runs a grid or sweep on a workstation, without Slurm: one run after another
# on RANKS local MPI ranks, skipping runs whose file exists (an interrupted
# run resumes from its checkpoint), then aggregates (CSV, figures,
# index.html). The way to try a sweep before slurm/submit-grid.sh; it takes
# the same grid files and sweeps, and writes the same files.
#
# usage: jobs/run-grid.sh [options] GRID_FILE [stiffness train options...]
#        jobs/run-grid.sh [options] --config FILE KEY=V1,V2,... [KEY=...] [stiffness train options...]
#   --config FILE        sweep: the Cartesian product of the value lists (as submit-grid.sh)
#   --name NAME          sweep name                  (default: the config file's name)
#   --results DIR        where the run files go      (default: results/<grid or sweep name>)
#   --aggregate-dir DIR  CSV, figures, index.html    (default: <results>/aggregate)
#   --ranks N            MPI ranks per run           (default: 2)
#   --no-aggregate       do not aggregate at the end
#
# Example:  jobs/run-grid.sh --config jobs/quickstart.ini lr=1e-3,1e-2 seed=0,1 --steps 50
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
GRID_PROG=run-grid.sh
# shellcheck source=../slurm/grid-lib.sh
source "$root/slurm/grid-lib.sh"

results="" aggdir="" config="" name="" ranks=2 aggregate=1
while (($# > 0)); do
  case $1 in
    --config) config=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --aggregate-dir) aggdir=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --no-aggregate) aggregate=0; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "run-grid.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $ranks =~ ^[1-9][0-9]*$ ]] || { echo "run-grid.sh: --ranks: expected a positive integer, got '$ranks'" >&2; exit 2; }
bin=${STIFFNESS_BIN:-$root/build/stiffness}
export STIFFNESS_ROOT=${STIFFNESS_ROOT:-$root}

# The grid file (a sweep expanded beside the results, or the one given),
# checked and validated; sets grid, name, results and REST (train options).
grid_resolve "$bin" "$@" || exit 2
set -- "${REST[@]}"
aggdir=$(readlink -m "${aggdir:-$results/aggregate}")
mkdir -p "$results"
# Open MPI refuses to start as root unless told (containers, fresh machines).
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

rows=$(grid_rows "$grid")
echo "grid: $grid ($rows runs) -> $results"
failed=0 ran=0 skipped=0
for ((t = 0; t < rows; t++)); do
  grid_row "$grid" "$t"
  output=$results/$ROW_NAME.h5
  if [[ -e $output ]]; then
    echo "[$((t + 1))/$rows] $ROW_NAME: finished already, skipped"
    skipped=$((skipped + 1))
    continue
  fi
  extra=()
  # A .partial without a checkpoint cannot be resumed: start it afresh.
  if [[ -e $output.partial && ! -e $output.ckpt/current && ! -e $output.ckpt/state.txt ]]; then extra=(--overwrite); fi
  echo "[$((t + 1))/$rows] $ROW_NAME: running (log $results/$ROW_NAME.log)"
  ran=$((ran + 1))
  if ! mpiexec -n "$ranks" --oversubscribe "$bin" train "${ROW_OPTS[@]}" "$@" "${extra[@]}" \
    --output "$output" >"$results/$ROW_NAME.log" 2>&1; then
    echo "[$((t + 1))/$rows] $ROW_NAME: FAILED, last lines of its log:" >&2
    tail -n 5 "$results/$ROW_NAME.log" >&2
    failed=$((failed + 1))
  fi
done
echo "run-grid.sh: $ran run, $skipped skipped (finished), $failed failed"
if ((aggregate)); then
  "$bin" aggregate "$results" --output-dir "$aggdir"
fi
((failed == 0))
