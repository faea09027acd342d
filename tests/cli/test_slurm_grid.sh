#!/usr/bin/env bash
# The slurm/ scripts on a real single-node Slurm (started and stopped here, by
# PID; tests/cli/slurm_lib.sh): slurm/submit-grid.sh submits a 2x2 grid
# (2 learning rates x {mlp, cnn}, 1 seed) as a job array of 2-rank jobs
# launched with `srun --mpi=pmix`, and the aggregation chained to it with
# --dependency=afterok. Then: every task and the aggregation COMPLETED with
# exit 0, every run file exists (complete, 2 ranks, no .partial or checkpoint
# left), and the CSV and the figures agree with the run files. Also one plain
# run through slurm/run.sbatch.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLI_DIR/slurm_lib.sh"
setup_tmp
start_slurm "$TMP/slurm"

WORK="$TMP/work"
mkdir -p "$WORK"
cat >"$WORK/tiny.grid" <<'EOF'
# 2 learning rates x {mlp, cnn}, seed 0: one row per array task.
name          model  lr     seed
mlp-lr1e-3    mlp    0.001  0
mlp-lr1e-2    mlp    0.01   0
cnn-lr1e-3    cnn    0.001  0
cnn-lr1e-2    cnn    0.01   0
EOF
TINY=(--data-dir "$DATA_DIR" --train-limit 2000 --val-limit 500 --per-class 3 --val-per-class 2
      --steps 20 --measure-log 2 --eval-examples 200 --widths 16 --channels 4,4 --batch-size 16
      --distance-bins 10 --progress-seconds 1000)

# The jobs find the repository and the binary through these (slurm/env.sh);
# sbatch passes the environment on. 2 ranks of 1 CPU each; a time limit well
# above the preemption warning (USR1 600 s before the end).
export STIFFNESS_ROOT="$STIFFNESS_SRC" STIFFNESS_BIN STIFFNESS_PYTHON="$PY"
# Ranks that share the 2 cores with the daemons should not busy-wait in MPI
# (busy-waiting made each measurement's collective write take ~1 s here).
export OMPI_MCA_mpi_yield_when_idle=1
cd "$WORK" || die "cannot enter $WORK"
bash "$STIFFNESS_SRC/slurm/submit-grid.sh" --results "$WORK/results" \
  --sbatch "--ntasks=2 --cpus-per-task=1 --time=30" --aggregate-sbatch "--time=10" \
  "$WORK/tiny.grid" "${TINY[@]}" >"$TMP/submit.out" 2>&1 ||
  { cat "$TMP/submit.out" >&2; slurm_diagnose; die "submit-grid.sh failed"; }
cat "$TMP/submit.out"
array_id=$(sed -n 's/^ARRAY_JOB_ID=//p' "$TMP/submit.out")
agg_id=$(sed -n 's/^AGGREGATE_JOB_ID=//p' "$TMP/submit.out")
[[ $array_id =~ ^[0-9]+$ && $agg_id =~ ^[0-9]+$ ]] || die "submit-grid.sh printed no job ids"

# The dependency is registered before anything runs.
scontrol -o show job "$agg_id" | grep -q "Dependency=afterok:${array_id}_\*" ||
  scontrol -o show job "$agg_id" | grep -q "Dependency=afterok:${array_id}" ||
  fail "aggregation $agg_id has no afterok dependency on $array_id: $(scontrol -o show job "$agg_id" | grep -o 'Dependency=[^ ]*')"

# And one plain run through slurm/run.sbatch (config file + extra options).
cat >"$WORK/tiny.ini" <<EOF
data-dir = $DATA_DIR
model = mlp
widths = 16
train-limit = 2000
val-limit = 500
per-class = 3
val-per-class = 2
steps = 20
measure-log = 2
eval-examples = 200
batch-size = 16
EOF
single_id=$(sbatch --parsable --ntasks=2 --cpus-per-task=1 --time=30 \
  "$STIFFNESS_SRC/slurm/run.sbatch" "$WORK/tiny.ini" --lr 0.003 --output "$WORK/single.h5") ||
  die "sbatch slurm/run.sbatch failed"
single_id=${single_id%%;*}

log "waiting for array $array_id, aggregation $agg_id and single run $single_id"
wait_jobs 240 "$array_id" "$agg_id" "$single_id" || { slurm_diagnose; fail "jobs still queued or running after 240 s"; }
job_states "$single_id" | tee "$TMP/single.states"
grep -q 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/single.states" || fail "run.sbatch job did not complete with exit 0"
"$PY" -c '
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert int(f.attrs["complete"]) == 1 and int(f.attrs["ranks"]) == 2
assert "lr = 0.003" in f.attrs["config"] and "widths = 16" in f.attrs["config"]
' "$WORK/single.h5" || fail "run.sbatch: $WORK/single.h5 missing or wrong"
[[ -s $WORK/stiffness-$single_id.out ]] || fail "run.sbatch log stiffness-$single_id.out missing"
job_states "$array_id" | tee "$TMP/array.states"
job_states "$agg_id" | tee "$TMP/agg.states"

n_ok=$(grep -c 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/array.states" || true)
((n_ok == 4)) || fail "expected 4 array tasks COMPLETED with exit 0, got $n_ok"
grep -q 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/agg.states" || fail "aggregation did not complete with exit 0"

RUNS=()
for name in mlp-lr1e-3 mlp-lr1e-2 cnn-lr1e-3 cnn-lr1e-2; do
  f="$WORK/results/$name.h5"
  RUNS+=("$f")
  [[ -f $f ]] || { fail "run file $f missing"; continue; }
  [[ -e $f.partial || -e $f.ckpt ]] && fail "$f.partial or $f.ckpt left behind"
  "$PY" - "$f" "$name" <<'EOF' || fail "$f: wrong content"
import sys, h5py
path, name = sys.argv[1], sys.argv[2]
model, lr = name.split("-lr")
with h5py.File(path, "r") as f:
    cfg = dict(l.split(" = ", 1) for l in f.attrs["config"].splitlines() if " = " in l)
    assert int(f.attrs["complete"]) == 1, "not complete"
    assert int(f.attrs["ranks"]) == 2, f"ranks {f.attrs['ranks']}"
    assert cfg["model"] == model, cfg["model"]
    assert abs(float(cfg["lr"]) - float(lr)) < 1e-12, cfg["lr"]
    assert len(f["steps"]) >= 2
EOF
done
for t in 0 1 2 3; do
  log_file="$WORK/results/logs/stiffness-grid-${array_id}_$t.out"
  [[ -s $log_file ]] || fail "task log $log_file missing"
done
grep -q 'srun --mpi=pmix' "$WORK/results/logs/stiffness-grid-${array_id}_0.out" ||
  fail "task 0 was not launched with srun --mpi=pmix"

AGG="$WORK/results/aggregate"
"$PY" "$CLI_DIR/check_aggregate.py" "$AGG" "${RUNS[@]}" || fail "CSV or figures disagree with the run files"
if ((FAILURES > 0)); then
  tail -n 20 "$WORK"/results/logs/*.out >&2
  slurm_diagnose
fi
finish
