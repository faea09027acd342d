#!/usr/bin/env bash
# Sweeps without Slurm (slurm/grid-lib.sh): jobs/run-grid.sh expands
# lr=...,... model=...,... into 4 runs with readable names, writes the
# expanded grid beside the results, runs them one after another and
# aggregates; run again it skips finished runs and reruns only a missing one.
# slurm/submit-grid.sh with a stand-in `sbatch` (first on PATH, in the
# scratch folder; records its arguments) submits only the missing rows and
# chains the aggregation, and every bad sweep (unknown option, empty list,
# name clash, rejected value) fails with one line BEFORE anything is
# submitted. Grid files keep working.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp
[[ -n $TMP && -d $TMP ]] || die "no scratch folder"
export STIFFNESS_BIN
cat >"$TMP/tiny.ini" <<INI
data-dir = $DATA_DIR
train-limit = 1000
val-limit = 500
per-class = 2
val-per-class = 2
eval-examples = 100
batch-size = 16
widths = 16
channels = 4
steps = 4
measure-log = 1
distance-bins = 10
progress-seconds = 1000
INI
RES="$TMP/res"
RG=(timeout 300 bash "$STIFFNESS_SRC/jobs/run-grid.sh" --ranks 1 --results "$RES")
"${RG[@]}" --config "$TMP/tiny.ini" lr=1e-3,1e-2 model=mlp,cnn >"$TMP/rg1.out" 2>&1 ||
  { cat "$TMP/rg1.out" >&2; die "run-grid.sh failed"; }
cat "$TMP/rg1.out"
NAMES=(lr-1e-3_model-mlp lr-1e-3_model-cnn lr-1e-2_model-mlp lr-1e-2_model-cnn)
for n in "${NAMES[@]}"; do
  "$PY" - "$RES/$n.h5" "$n" <<'PYEOF' || fail "$n.h5 missing or wrong"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
cfg = dict(l.split(" = ", 1) for l in f.attrs["config"].splitlines() if " = " in l)
lr, model = sys.argv[2].split("_")
assert int(f.attrs["complete"]) == 1
assert float(cfg["lr"]) == float(lr[3:]) and cfg["model"] == model[6:], (cfg["lr"], cfg["model"])
PYEOF
done
[[ -f $RES/tiny.grid ]] && (($(grep -vc '^#' "$RES/tiny.grid") == 5)) ||
  fail "expanded grid $RES/tiny.grid missing or not a header and 4 rows"
[[ -s $RES/aggregate/runs.csv && -s $RES/aggregate/index.html ]] || fail "run-grid.sh did not aggregate"

# Again: nothing to do. Then one file removed: only that one runs.
"${RG[@]}" --no-aggregate --config "$TMP/tiny.ini" lr=1e-3,1e-2 model=mlp,cnn >"$TMP/rg2.out" 2>&1 ||
  fail "second run-grid.sh failed"
grep -q "0 run, 4 skipped" "$TMP/rg2.out" || fail "finished runs were not skipped: $(tail -1 "$TMP/rg2.out")"
rm "$RES/lr-1e-2_model-mlp.h5"
"${RG[@]}" --no-aggregate --config "$TMP/tiny.ini" lr=1e-3,1e-2 model=mlp,cnn >"$TMP/rg3.out" 2>&1 ||
  fail "third run-grid.sh failed"
grep -q "1 run, 3 skipped" "$TMP/rg3.out" && grep -q "lr-1e-2_model-mlp: running" "$TMP/rg3.out" ||
  fail "not exactly the missing run was rerun: $(cat "$TMP/rg3.out")"

# submit-grid.sh with a stand-in sbatch first on PATH (inside $TMP only).
mkdir -p "$TMP/fakebin"
CALLS="$TMP/sbatch.calls"
printf '#!/bin/sh\necho "$*" >>"%s"\necho $(( $(wc -l <"%s") + 100 ))\n' "$CALLS" "$CALLS" >"$TMP/fakebin/sbatch"
chmod +x "$TMP/fakebin/sbatch"
SG=(env PATH="$TMP/fakebin:$PATH" timeout 120 bash "$STIFFNESS_SRC/slurm/submit-grid.sh" --results "$RES")
rm "$RES/lr-1e-3_model-cnn.h5"
: >"$CALLS"
"${SG[@]}" --config "$TMP/tiny.ini" lr=1e-3,1e-2 model=mlp,cnn >"$TMP/sg.out" 2>&1 ||
  fail "submit-grid.sh failed: $(cat "$TMP/sg.out")"
cat "$TMP/sg.out"
grep -q -- "--array=1 .*grid.sbatch $RES/tiny.grid" "$CALLS" || fail "array not limited to the missing row 1: $(cat "$CALLS")"
grep -q -- "--dependency=afterok:101 .*aggregate.sbatch $RES" "$CALLS" || fail "aggregation not chained: $(cat "$CALLS")"
grep -q "^ARRAY_JOB_ID=101$" "$TMP/sg.out" && grep -q "^AGGREGATE_JOB_ID=102$" "$TMP/sg.out" || fail "job ids not printed"
# --sbatch FILE (e.g. a GPU variant of the array script) beside --sbatch "OPTS".
cp "$STIFFNESS_SRC/slurm/grid.sbatch" "$TMP/gpu.sbatch"
: >"$CALLS"
"${SG[@]}" --sbatch "$TMP/gpu.sbatch" --sbatch "--ntasks=3" --config "$TMP/tiny.ini" lr=1e-3,1e-2 model=mlp,cnn \
  >/dev/null 2>&1 || fail "submit-grid.sh --sbatch FILE failed"
grep -q -- "--ntasks=3 $TMP/gpu.sbatch $RES/tiny.grid" "$CALLS" || fail "--sbatch FILE not used: $(cat "$CALLS")"
# A grid file works as before (extra options after it go to every run).
printf 'name model lr\nm1 mlp 0.001\nm2 mlp 0.002\n' >"$TMP/two.grid"
: >"$CALLS"
"${SG[@]}" "$TMP/two.grid" --config "$TMP/tiny.ini" >"$TMP/sg2.out" 2>&1 || fail "grid file: $(cat "$TMP/sg2.out")"
grep -q -- "--array=0-1 .*$TMP/two.grid --config $TMP/tiny.ini" "$CALLS" || fail "grid file not submitted: $(cat "$CALLS")"

# Bad sweeps: one line, exit 2, nothing submitted (both scripts).
bad() {  # NAME PATTERN SWEEP...
  local name=$1 pattern=$2 rc script
  shift 2
  for script in submit run; do
    : >"$CALLS"
    rc=0
    if [[ $script == submit ]]; then
      "${SG[@]}" --config "$TMP/tiny.ini" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    else
      "${RG[@]}" --config "$TMP/tiny.ini" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    fi
    ((rc == 2)) || fail "$name ($script): exit $rc, expected 2"
    (($(wc -l <"$TMP/$name.err") == 1)) && grep -q -- "$pattern" "$TMP/$name.err" ||
      fail "$name ($script): expected one line matching '$pattern', got: $(cat "$TMP/$name.err")"
    [[ -s $CALLS ]] && fail "$name ($script): something was submitted"
  done
}
bad unknown "run 'lr-1e-3_foo-1' would be rejected: bad option: unrecognised option '--foo'" lr=1e-3 foo=1,2
bad empty "empty value in the list of 'lr'" lr=1e-3,,1e-2
bad empty2 "empty value in the list of 'seed'" lr=1e-3 seed=
bad clash "appears twice in the sweep (name clash" lr=1e-3,1e-3
bad twice "option 'lr' is given twice" lr=1e-3 lr=1e-2
bad value "run 'lr--1' would be rejected: --lr: learning rate must be > 0, got -1" lr=1e-3,-1
bad batch "run 'model-mlp_batch-size-0' would be rejected: --batch-size: must be positive" model=mlp batch-size=0
[[ -e $RES/tiny.grid.new ]] && fail "a rejected sweep left tiny.grid.new"
(($(grep -vc '^#' "$RES/tiny.grid") == 5)) || fail "a rejected sweep changed the expanded grid $RES/tiny.grid"
finish
