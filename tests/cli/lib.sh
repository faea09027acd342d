# Shared helpers for the CLI tests (sourced by tests/cli/test_*.sh).
#
# Environment (set by ctest, defaults for running a script by hand from a
# configured build tree):
#   STIFFNESS_BIN       the stiffness binary
#   STIFFNESS_SRC       repository root
#   STIFFNESS_TEST_TMP  per-test scratch folder (created here, emptied first)
set -uo pipefail

CLI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${STIFFNESS_SRC:=$(cd "$CLI_DIR/../.." && pwd)}"
: "${STIFFNESS_BIN:=$STIFFNESS_SRC/build/stiffness}"
: "${STIFFNESS_TEST_TMP:=/tmp/stiffness-cli-$(basename "$0" .sh)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# Debian's python has h5py and numpy; the python3 on PATH may not.
PY=/usr/bin/python3
DATA_DIR=/usr/share/datasets/fashion-mnist
TMP="$STIFFNESS_TEST_TMP"

# Small job: N = 10 * (3 + 2) = 50 examples. A option may be given only once
# (boost rejects repeats), so the length (--steps, --measure-log) and the
# model are left to each test.
SMALL=(--data-dir "$DATA_DIR" --train-limit 2000 --val-limit 1000 --per-class 3 --val-per-class 2
       --eval-examples 500 --batch-size 16 --progress-seconds 1000)

FAILURES=0
T_START=$(date +%s)

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILURES=$((FAILURES + 1)); }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# Fresh, empty scratch folder.
setup_tmp() {
  [[ -x "$STIFFNESS_BIN" ]] || die "STIFFNESS_BIN '$STIFFNESS_BIN' is not an executable"
  "$PY" -c 'import h5py, numpy' 2>/dev/null || die "$PY lacks h5py/numpy"
  rm -rf "$TMP" && mkdir -p "$TMP" || die "cannot create scratch folder $TMP"
}

# run_stiffness P LOGPREFIX ARGS...: runs `stiffness train ARGS` on P ranks
# (bounded by `timeout`), stdout to LOGPREFIX.out, stderr to LOGPREFIX.err.
# Returns the exit status (124 on a hang).
run_stiffness() {
  local p=$1 prefix=$2
  shift 2
  timeout -k 10 "${RUN_TIMEOUT:-120}" mpiexec -n "$p" --oversubscribe "$STIFFNESS_BIN" train "$@" \
    >"$prefix.out" 2>"$prefix.err"
}

# run_ok P LOGPREFIX ARGS...: like run_stiffness, but a non-zero exit fails
# the test (showing the log tail).
run_ok() {
  local p=$1 prefix=$2 rc=0
  run_stiffness "$@" || rc=$?
  if ((rc != 0)); then
    fail "stiffness train on $p rank(s) exited $rc: ${*:3}"
    tail -n 20 "$prefix.out" "$prefix.err" >&2
    return 1
  fi
  return 0
}

# Ends the script: prints the verdict and elapsed time, exits non-zero if
# any check failed.
finish() {
  local secs=$(( $(date +%s) - T_START ))
  if ((FAILURES > 0)); then
    log "FAILED: $FAILURES check(s) failed (${secs}s)"
    exit 1
  fi
  log "passed (${secs}s)"
  exit 0
}
