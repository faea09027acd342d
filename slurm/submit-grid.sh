#!/usr/bin/env bash
# Submits a whole grid or sweep: one array task per run that has no result
# file yet (slurm/grid.sbatch), then the aggregation of the results
# (slurm/aggregate.sbatch) chained to the array with --dependency=afterok.
# Prints both job ids. Run it (not sbatch it) from anywhere.
#
# usage: slurm/submit-grid.sh [options] GRID_FILE [stiffness train options...]
#        slurm/submit-grid.sh [options] --config FILE KEY=V1,V2,... [KEY=...] [stiffness train options...]
#   --config FILE        sweep: the Cartesian product of the value lists, runs
#                        named like lr-1e-3_model-mlp_seed-0; the expanded grid
#                        file is written to <results>/<name>.grid
#   --name NAME          sweep name                  (default: the config file's name)
#   --results DIR        where the run files go      (default: results/<grid or sweep name>)
#   --aggregate-dir DIR  CSV, figures, index.html    (default: <results>/aggregate)
#   --max-parallel K     at most K array tasks at once (sbatch --array=...%K)
#   --sbatch "OPTS"      more sbatch options for the array, e.g. "--ntasks=8 -p gpu --time=2:00:00"
#   --script FILE        the array job script        (default: slurm/grid.sbatch; e.g. a GPU
#                        variant; `--sbatch FILE.sbatch` naming an existing file means the same)
#   --aggregate-sbatch "OPTS"  more sbatch options for the aggregation job
#   --afterany           aggregate even if some tasks fail (default: afterok)
#   --logs DIR           job logs                    (default: <results>/logs)
#
# Before anything is submitted every run is checked with `stiffness train
# --check-only` ($STIFFNESS_BIN, default build/stiffness): a bad sweep (an
# unknown option, an empty value list, a name clash, a value the program
# would reject) fails with a one-line error. Runs whose <results>/<name>.h5
# exists are not submitted again. jobs/run-grid.sh runs the same grid or
# sweep on a workstation, one run after another.
#
# Examples:  slurm/submit-grid.sh jobs/paper.grid
#            slurm/submit-grid.sh --config jobs/paper-mlp.ini lr=1e-4,1e-3,1e-2 model=mlp,cnn seed=0,1
#            slurm/submit-grid.sh --max-parallel 4 jobs/paper.grid --epochs 2
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
GRID_PROG=submit-grid.sh
# shellcheck source=grid-lib.sh
source "$root/slurm/grid-lib.sh"

results="" aggdir="" logs="" max_parallel="" dependency=afterok config="" name=""
script=$root/slurm/grid.sbatch
array_opts=() agg_opts=()
while (($# > 0)); do
  case $1 in
    --config) config=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --aggregate-dir) aggdir=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --max-parallel) max_parallel=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --sbatch)
      if [[ $2 == *.sbatch && -f $2 ]]; then script=$2
      else
        # shellcheck disable=SC2206  # split the quoted option string into words
        array_opts+=($2)
      fi
      shift 2 ;;
    --aggregate-sbatch)
      # shellcheck disable=SC2206
      agg_opts+=($2)
      shift 2 ;;
    --afterany) dependency=afterany; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "submit-grid.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ -r $script ]] || { echo "submit-grid.sh: --script: cannot read '$script'" >&2; exit 2; }
script=$(readlink -f "$script")
bin=${STIFFNESS_BIN:-$root/build/stiffness}
export STIFFNESS_ROOT=${STIFFNESS_ROOT:-$root}

# The grid file (a sweep expanded beside the results, or the one given),
# checked and validated; sets grid, name, results and REST (train options).
grid_resolve "$bin" "$@" || exit 2
set -- "${REST[@]}"
rows=$(grid_rows "$grid")
export STIFFNESS_RESULTS=$results
missing=$(grid_missing "$grid" "$results")

aggdir=$(readlink -m "${aggdir:-$results/aggregate}")
logs=$(readlink -m "${logs:-$results/logs}")
mkdir -p "$results" "$logs"   # Slurm does not create the folder of a log file

echo "grid:        $grid ($rows runs)"
array_id="" dep=()
if [[ -n $missing ]]; then
  array="$(grid_ranges "$missing")${max_parallel:+%$max_parallel}"
  # --parsable prints "<job id>[;cluster]"; the array's job id names all its tasks.
  array_id=$(sbatch --parsable --array="$array" --output="$logs/%x-%A_%a.out" \
    "${array_opts[@]}" "$script" "$grid" "$@")
  array_id=${array_id%%;*}
  n_missing=$(tr ',' '\n' <<<"$missing" | wc -l)
  note=""
  ((n_missing == rows)) || note="; the other $((rows - n_missing)) are finished"
  echo "array job:   $array_id (tasks $array: $n_missing of $rows runs$note) -> $results/<name>.h5"
  # afterok: start only when EVERY task ended with exit status 0; if one
  # fails, the dependency can never be met and --kill-on-invalid-dep cancels
  # the aggregation (instead of leaving it pending as
  # DependencyNeverSatisfied). Use --afterany to aggregate a partial grid:
  # incomplete files are skipped with a warning. A task that requeues itself
  # after a checkpoint is not finished, so the aggregation waits for its
  # second start.
  dep=(--dependency="$dependency:$array_id" --kill-on-invalid-dep=yes)
else
  echo "array job:   none: all $rows runs are finished"
fi
agg_id=$(sbatch --parsable "${dep[@]}" --output="$logs/%x-%j.out" "${agg_opts[@]}" \
  "$root/slurm/aggregate.sbatch" "$results" "$aggdir")
agg_id=${agg_id%%;*}

echo "aggregation: $agg_id (${array_id:+$dependency:$array_id}) -> $aggdir/runs.csv, figures, index.html"
echo "logs:        $logs"
echo "ARRAY_JOB_ID=$array_id"
echo "AGGREGATE_JOB_ID=$agg_id"
