#!/usr/bin/env bash
# The sweep of the issue on a real single-node Slurm (tests/cli/slurm_lib.sh):
#   slurm/submit-grid.sh --config CONFIG lr=1e-4,1e-3,1e-2 model=mlp,cnn seed=0,1
# (a tiny config in place of jobs/paper-mlp.ini, so that it takes seconds)
# expands to 12 runs with readable names, writes the expanded grid beside the
# results, submits the array and the dependent aggregation and prints the job
# ids. Then: 12 tasks and the aggregation COMPLETED, 12 complete run files
# with the right options, the CSV has their 12 runs and index.html is
# written. A resubmission after one file is removed submits only that row.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLI_DIR/slurm_lib.sh"
setup_tmp
start_slurm "$TMP/slurm"

WORK="$TMP/work"
mkdir -p "$WORK"
cat >"$WORK/tiny-mlp.ini" <<INI
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
export STIFFNESS_ROOT="$STIFFNESS_SRC" STIFFNESS_BIN STIFFNESS_PYTHON="$PY"
export OMPI_MCA_mpi_yield_when_idle=1
cd "$WORK" || die "cannot enter $WORK"
SUBMIT=(bash "$STIFFNESS_SRC/slurm/submit-grid.sh" --sbatch "--ntasks=1 --cpus-per-task=1 --time=30"
        --aggregate-sbatch "--time=10" --config "$WORK/tiny-mlp.ini" lr=1e-4,1e-3,1e-2 model=mlp,cnn seed=0,1)
"${SUBMIT[@]}" >"$TMP/submit.out" 2>&1 || { cat "$TMP/submit.out" >&2; slurm_diagnose; die "submit-grid.sh failed"; }
cat "$TMP/submit.out"
RES="$WORK/results/tiny-mlp"
array_id=$(sed -n 's/^ARRAY_JOB_ID=//p' "$TMP/submit.out")
agg_id=$(sed -n 's/^AGGREGATE_JOB_ID=//p' "$TMP/submit.out")
[[ $array_id =~ ^[0-9]+$ && $agg_id =~ ^[0-9]+$ ]] || die "submit-grid.sh printed no job ids"
grep -q "tasks 0-11: 12 of 12 runs)" "$TMP/submit.out" || fail "not 12 tasks submitted"
[[ -f $RES/tiny-mlp.grid ]] && (($(grep -vc '^#' "$RES/tiny-mlp.grid") == 13)) ||
  fail "expanded grid $RES/tiny-mlp.grid missing or not 12 rows"

log "waiting for array $array_id and aggregation $agg_id"
wait_jobs 400 "$array_id" "$agg_id" || { slurm_diagnose; fail "jobs still queued or running after 400 s"; }
job_states "$array_id" >"$TMP/array.states"
job_states "$agg_id" >"$TMP/agg.states"
n_ok=$(grep -c 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/array.states" || true)
((n_ok == 12)) || { cat "$TMP/array.states"; fail "expected 12 array tasks COMPLETED with exit 0, got $n_ok"; }
grep -q 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/agg.states" || { cat "$TMP/agg.states"; fail "aggregation did not complete"; }

"$PY" - "$RES" <<'PYEOF' || fail "run files or aggregate wrong"
import csv, itertools, os, sys, h5py
res = sys.argv[1]
names = []
for lr, model, seed in itertools.product(["1e-4", "1e-3", "1e-2"], ["mlp", "cnn"], ["0", "1"]):
    name = f"lr-{lr}_model-{model}_seed-{seed}"
    names.append(name)
    with h5py.File(os.path.join(res, name + ".h5"), "r") as f:
        cfg = dict(l.split(" = ", 1) for l in f.attrs["config"].splitlines() if " = " in l)
        assert int(f.attrs["complete"]) == 1, name
        assert float(cfg["lr"]) == float(lr) and cfg["model"] == model and cfg["seed"] == seed, (name, cfg)
rows = list(csv.DictReader(open(os.path.join(res, "aggregate", "runs.csv"))))
runs = {os.path.basename(r["run"])[:-3] for r in rows}
assert runs == set(names), sorted(runs ^ set(names))
assert os.path.getsize(os.path.join(res, "aggregate", "index.html")) > 10000
print(f"12 complete runs named by their options; aggregate has {len(rows)} rows of 12 runs and index.html")
PYEOF

# Resubmission: only the missing run.
rm "$RES/lr-1e-3_model-cnn_seed-1.h5"
"${SUBMIT[@]}" >"$TMP/submit2.out" 2>&1 || { cat "$TMP/submit2.out" >&2; die "second submit-grid.sh failed"; }
cat "$TMP/submit2.out"
grep -q "tasks 7: 1 of 12 runs; the other 11 are finished" "$TMP/submit2.out" || fail "the resubmission did not submit only row 7"
array2=$(sed -n 's/^ARRAY_JOB_ID=//p' "$TMP/submit2.out")
agg2=$(sed -n 's/^AGGREGATE_JOB_ID=//p' "$TMP/submit2.out")
wait_jobs 200 "$array2" "$agg2" || { slurm_diagnose; fail "resubmitted jobs still running after 200 s"; }
[[ -f $RES/lr-1e-3_model-cnn_seed-1.h5 ]] || fail "the resubmission did not rerun the missing run"
if ((FAILURES > 0)); then
  tail -n 20 "$RES"/logs/*.out >&2
  slurm_diagnose
fi
finish
