#!/usr/bin/env bash
# `stiffness aggregate`: three tiny runs (two mlp learning rates, one cnn; 1
# and 2 ranks) plus files that must be skipped with a warning (a .partial, a
# file with complete = 0, a stray non-HDF5 *.h5, a checkpoint folder), then:
# the CSV agrees with the run files value for value, the figures exist (PNG
# and SVG), and bad input fails with a one-line error naming it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

TINY=(--data-dir "$DATA_DIR" --train-limit 2000 --val-limit 500 --per-class 3 --val-per-class 2
      --steps 20 --measure-log 2 --eval-examples 200 --batch-size 16 --distance-bins 10
      --progress-seconds 1000)
RUNS="$TMP/runs"
mkdir -p "$RUNS/sub"
run_ok 1 "$TMP/a" "${TINY[@]}" --model mlp --widths 16 --lr 0.001 -o "$RUNS/mlp-lr1e-3.h5"
run_ok 2 "$TMP/b" "${TINY[@]}" --model mlp --widths 16 --lr 0.01 -o "$RUNS/sub/mlp-lr1e-2.h5"
run_ok 1 "$TMP/c" "${TINY[@]}" --model cnn --channels 4,4 --lr 0.001 -o "$RUNS/cnn-lr1e-3.h5"
GOOD=("$RUNS/cnn-lr1e-3.h5" "$RUNS/mlp-lr1e-3.h5" "$RUNS/sub/mlp-lr1e-2.h5")
for f in "${GOOD[@]}"; do [[ -f $f ]] || die "run file $f was not written"; done

# Files to skip: a run still being written, one that says complete = 0, a
# stray non-HDF5 file, and a checkpoint folder (never entered).
cp "$RUNS/mlp-lr1e-3.h5" "$RUNS/running.h5.partial"
cp "$RUNS/mlp-lr1e-3.h5" "$RUNS/sub/crashed.h5"
"$PY" -c 'import h5py, sys; h5py.File(sys.argv[1], "r+").attrs["complete"] = 0' "$RUNS/sub/crashed.h5"
echo "not hdf5" >"$RUNS/notes.h5"
mkdir -p "$RUNS/x.h5.ckpt" && cp "$RUNS/mlp-lr1e-3.h5" "$RUNS/x.h5.ckpt/state.h5"

# --- a folder: CSV + PNG figures -------------------------------------------
OUT="$TMP/out"
rc=0
"$STIFFNESS_BIN" aggregate "$RUNS" --output-dir "$OUT" >"$TMP/agg.out" 2>"$TMP/agg.err" || rc=$?
if ((rc != 0)); then
  fail "aggregate of a folder exited $rc"
  cat "$TMP/agg.out" "$TMP/agg.err" >&2
fi
for skipped in running.h5.partial crashed.h5 notes.h5; do
  grep -q "warning: skipping.*$skipped" "$TMP/agg.err" || fail "no warning naming $skipped"
done
grep -q 'x.h5.ckpt' "$TMP/agg.err" "$TMP/agg.out" && fail "aggregate looked inside the checkpoint folder"
grep -q '^aggregate: 3 runs (3 skipped), 27 rows' "$TMP/agg.out" || fail "unexpected summary: $(head -1 "$TMP/agg.out")"
"$PY" "$CLI_DIR/check_aggregate.py" "$OUT" "${GOOD[@]}" || fail "CSV or figures disagree with the run files"

# --- named files, SVG --------------------------------------------------------
rc=0
"$STIFFNESS_BIN" aggregate "${GOOD[@]:0:2}" --output-dir "$TMP/svg" --format svg >"$TMP/svg.out" 2>&1 || rc=$?
((rc == 0)) || { fail "aggregate --format svg exited $rc"; cat "$TMP/svg.out" >&2; }
"$PY" "$CLI_DIR/check_aggregate.py" "$TMP/svg" "${GOOD[@]:0:2}" --format svg || fail "svg output disagrees"

# --- under mpiexec: one rank works, the others only wait ---------------------
rc=0
timeout 120 mpiexec -n 2 --oversubscribe "$STIFFNESS_BIN" aggregate "$RUNS/mlp-lr1e-3.h5" \
  --output-dir "$TMP/mpi" --no-figures >"$TMP/mpi.out" 2>&1 || rc=$?
((rc == 0)) || { fail "aggregate on 2 ranks exited $rc"; cat "$TMP/mpi.out" >&2; }
(($(grep -c '^aggregate:' "$TMP/mpi.out") == 1)) || fail "aggregate on 2 ranks did not print one summary"
"$PY" "$CLI_DIR/check_aggregate.py" "$TMP/mpi" "$RUNS/mlp-lr1e-3.h5" --no-figures || fail "2-rank CSV disagrees"

# --- a file of format stiffness/1 (before xi's status, the fit range and the
# half length): still read; its new CSV columns are empty; its figures drawn.
OLD="$TMP/old/mlp-old.h5"
mkdir -p "$TMP/old" && cp "$RUNS/mlp-lr1e-3.h5" "$OLD"
"$PY" - "$OLD" <<'PYEOF' || fail "could not make a format-1 file"
import sys, h5py
new = ("xi_linear_status", "half_length", "fit_min_distance", "fit_max_distance",
       "xi_linear_cosine_status", "xi_linear_sign_status", "half_length_cosine", "half_length_sign",
       "half_reference_cosine", "half_reference_sign", "half_length_cosine_status",
       "half_length_sign_status")
with h5py.File(sys.argv[1], "r+") as f:
    assert f.attrs["format"] == "stiffness/3", f.attrs["format"]
    f.attrs["format"] = "stiffness/1"
    def strip(name, obj):
        for k in new:
            if k in obj.attrs:
                del obj.attrs[k]
    f.visititems(strip)
PYEOF
rc=0
"$STIFFNESS_BIN" aggregate "$OLD" "$RUNS/cnn-lr1e-3.h5" --output-dir "$TMP/oldagg" >"$TMP/old.out" 2>&1 || rc=$?
((rc == 0)) || { fail "aggregate of a format-1 file exited $rc"; cat "$TMP/old.out" >&2; }
"$PY" "$CLI_DIR/check_aggregate.py" "$TMP/oldagg" "$OLD" "$RUNS/cnn-lr1e-3.h5" || fail "format-1 CSV disagrees"
"$PY" -c 'import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if "mlp-old" in r["run"]]
assert rows and all(r["xi_status"] == "" and r["half_length"] == "" for r in rows), rows[:1]' \
  "$TMP/oldagg/runs.csv" || fail "format-1 rows should have empty xi_status and half_length"

# --- bad input: exit 1 and ONE line naming the problem -----------------------
expect_error() {  # expect_error WHAT PATTERN ARGS...
  local what=$1 pattern=$2 rc=0
  shift 2
  "$STIFFNESS_BIN" aggregate "$@" >"$TMP/err.out" 2>"$TMP/err.err" || rc=$?
  if ((rc != 1)); then
    fail "$what: exit status $rc, expected 1"
  elif ! grep -q "$pattern" "$TMP/err.err"; then
    fail "$what: stderr lacks '$pattern': $(cat "$TMP/err.err")"
  elif (($(grep -vc 'warning:' "$TMP/err.err") != 1)); then
    fail "$what: expected one error line, got: $(cat "$TMP/err.err")"
  fi
}
expect_error "missing file" "error: input '$TMP/none.h5' does not exist" "$TMP/none.h5" --output-dir "$TMP/e1"
expect_error "named non-HDF5 file" "error: '$RUNS/notes.h5' is not an HDF5 file" "$RUNS/notes.h5" --output-dir "$TMP/e2"
expect_error "only incomplete runs" "error: no complete run files" "$RUNS/sub/crashed.h5" "$RUNS/running.h5.partial" --output-dir "$TMP/e3"
expect_error "no input" "error: no input" --output-dir "$TMP/e4"
expect_error "bad format" "error: --format: expected png or svg" "$RUNS" --format jpg

# matplotlib missing: an interpreter whose `import matplotlib` fails.
mkdir -p "$TMP/nompl/matplotlib"
echo 'raise ImportError("No module named matplotlib (hidden by the test)")' >"$TMP/nompl/matplotlib/__init__.py"
printf '#!/bin/sh\nPYTHONPATH=%s exec /usr/bin/python3 "$@"\n' "$TMP/nompl" >"$TMP/python-nompl"
chmod +x "$TMP/python-nompl"
expect_error "no matplotlib" "error: the figures need matplotlib" "$RUNS/mlp-lr1e-3.h5" \
  --output-dir "$TMP/e5" --python "$TMP/python-nompl"
[[ -s $TMP/e5/runs.csv ]] || fail "without matplotlib the CSV should still be written"

"$STIFFNESS_BIN" aggregate --help | grep -q -- '--output-dir' || fail "aggregate --help lacks --output-dir"

finish
