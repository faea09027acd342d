#!/usr/bin/env bash
# Submits a whole grid: one array task per row of the grid file
# (slurm/grid.sbatch), then the aggregation of its results
# (slurm/aggregate.sbatch) chained to the array with --dependency=afterok.
# Prints both job ids. Run it (not sbatch it) from anywhere.
#
# usage: slurm/submit-grid.sh [options] GRID_FILE [stiffness train options...]
#   --results DIR        where the run files go      (default: results/<grid name>)
#   --aggregate-dir DIR  CSV and figures             (default: <results>/aggregate)
#   --max-parallel K     at most K array tasks at once (sbatch --array=0-N%K)
#   --sbatch "OPTS"      more sbatch options for the array, e.g. "--ntasks=8 -p gpu --time=2:00:00"
#   --aggregate-sbatch "OPTS"  more sbatch options for the aggregation job
#   --afterany           aggregate even if some tasks fail (default: afterok)
#   --logs DIR           job logs                    (default: <results>/logs)
#
# Example:  slurm/submit-grid.sh jobs/paper.grid
#           slurm/submit-grid.sh --max-parallel 4 jobs/paper.grid --epochs 2
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
results="" aggdir="" logs="" max_parallel="" dependency=afterok
array_opts=() agg_opts=()
while (($# > 0)); do
  case $1 in
    --results) results=$2; shift 2 ;;
    --aggregate-dir) aggdir=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --max-parallel) max_parallel=$2; shift 2 ;;
    # shellcheck disable=SC2206  # split the quoted option string into words
    --sbatch) array_opts+=($2); shift 2 ;;
    # shellcheck disable=SC2206
    --aggregate-sbatch) agg_opts+=($2); shift 2 ;;
    --afterany) dependency=afterany; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "submit-grid.sh: unknown option '$1'" >&2; usage ;;
    *) break ;;
  esac
done
(($# >= 1)) || usage
grid=$(readlink -f "$1")
shift
[[ -r $grid ]] || { echo "submit-grid.sh: cannot read grid file '$1'" >&2; exit 2; }

# Rows = lines that are neither blank nor comments, less the header line.
rows=$(sed -e 's/#.*//' "$grid" | grep -c -v '^[[:space:]]*$' || true)
rows=$((rows - 1))
((rows >= 1)) || { echo "submit-grid.sh: '$grid' has no rows under its header line" >&2; exit 2; }

name=$(basename "$grid" .grid)
results=$(readlink -m "${results:-results/$name}")
aggdir=$(readlink -m "${aggdir:-$results/aggregate}")
logs=$(readlink -m "${logs:-$results/logs}")
mkdir -p "$results" "$logs"   # Slurm does not create the folder of a log file

array="0-$((rows - 1))${max_parallel:+%$max_parallel}"
export STIFFNESS_ROOT=${STIFFNESS_ROOT:-$root} STIFFNESS_RESULTS=$results

# --parsable prints "<job id>[;cluster]"; the array's job id names all its tasks.
array_id=$(sbatch --parsable --array="$array" --output="$logs/%x-%A_%a.out" \
  "${array_opts[@]}" "$root/slurm/grid.sbatch" "$grid" "$@")
array_id=${array_id%%;*}

# afterok: start only when EVERY task ended with exit status 0; if one fails,
# the dependency can never be met and --kill-on-invalid-dep cancels the
# aggregation (instead of leaving it pending as DependencyNeverSatisfied). Use
# afterany (--afterany) to aggregate a partial grid: incomplete files are
# skipped with a warning. A task that requeues itself after a checkpoint is
# not finished, so the aggregation waits for its second start.
agg_id=$(sbatch --parsable --dependency="$dependency:$array_id" --kill-on-invalid-dep=yes \
  --output="$logs/%x-%j.out" "${agg_opts[@]}" "$root/slurm/aggregate.sbatch" "$results" "$aggdir")
agg_id=${agg_id%%;*}

echo "grid:        $grid ($rows runs)"
echo "array job:   $array_id (tasks $array) -> $results/<name>.h5"
echo "aggregation: $agg_id ($dependency:$array_id) -> $aggdir/runs.csv and figures"
echo "logs:        $logs"
echo "ARRAY_JOB_ID=$array_id"
echo "AGGREGATE_JOB_ID=$agg_id"
