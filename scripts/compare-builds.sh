#!/usr/bin/env bash
# Do two builds of stiffness write the same files? Runs the quickstart job
# (jobs/quickstart.ini, 2 ranks) and a CNN job (2 ranks, 3 measurements, K
# stored) with the build of this checkout and with a reference commit, and
# compares the files with tests/cli/same_run.py --builds: every dataset and
# attribute bit for bit, apart from timings, memory high-water marks, the
# version, git hash and host name.
#
# usage: scripts/compare-builds.sh [REF]     (REF: a commit, default c526feb,
#        the main before the layout of docs/design.md's module map)
# The reference is built once in build/ref-<hash>/ (a git worktree); this
# checkout's build is build/. Takes about 15 minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
ROOT=$(pwd)
REF=${1:-c526feb}
hash=$(git rev-parse --short=12 "$REF^{commit}") || { echo "compare-builds.sh: '$REF' is not a commit" >&2; exit 2; }
REFDIR=$ROOT/build/ref-$hash
OUT=$ROOT/build/compare-builds

bash scripts/build.sh >/dev/null
if [[ ! -x $REFDIR/src/build/stiffness ]]; then
  if [[ ! -d $REFDIR/src ]]; then
    git worktree prune
    git worktree add --detach "$REFDIR/src" "$hash" >/dev/null
  fi
  cmake -S "$REFDIR/src" -B "$REFDIR/src/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$REFDIR/src/build" -j"$(nproc)" --target stiffness >/dev/null
fi

if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# The jobs. Both builds run in folders of the same depth with the same
# relative output path, so that the recorded options and command lines agree.
JOBS=(
  "quickstart|--config $ROOT/jobs/quickstart.ini --output run.h5"
  "cnn|--data-dir /usr/share/datasets/fashion-mnist --train-limit 2000 --val-limit 1000 --model cnn --per-class 10 --val-per-class 5 --batch-size 32 --steps 40 --measure-log 2 --measure-epochs false --store-k every --output run.h5"
)
status=0
for job in "${JOBS[@]}"; do
  name=${job%%|*}
  read -r -a args <<<"${job#*|}"
  for side in ref new; do
    bin=$ROOT/build/stiffness
    [[ $side == ref ]] && bin=$REFDIR/src/build/stiffness
    rm -rf "${OUT:?}/$side/$name" && mkdir -p "$OUT/$side/$name"
    (cd "$OUT/$side/$name" && mpiexec -n 2 --oversubscribe "$bin" train "${args[@]}" >log.txt 2>&1) ||
      { echo "compare-builds.sh: the $side build failed on $name: $OUT/$side/$name/log.txt" >&2; exit 1; }
  done
  printf '%-10s ' "$name:"
  /usr/bin/python3 tests/cli/same_run.py --builds "$OUT/ref/$name/run.h5" "$OUT/new/$name/run.h5" || status=1
done
echo "compared $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- src include || echo ' (with uncommitted changes)') against $hash"
exit $status
