#!/usr/bin/env bash
# Preemption through the slurm/ scripts on a real single-node Slurm (started
# and stopped here by PID; tests/cli/slurm_lib.sh). A 2-row grid array of
# 2-rank runs plus its afterok aggregation, via slurm/submit-grid.sh; while
# task 1 trains, its batch shell gets SIGUSR1 exactly as `--signal=B:USR1@s`
# would send it (scancel --batch). Then:
#  - the script forwards the signal, the run checkpoints and exits 3, and the
#    task requeues ITSELF (<array id>_1: task 0 must not restart);
#  - the requeued task resumes from <output>.ckpt/ and its final file equals
#    an uninterrupted 2-rank run's (every dataset bit for bit, every attribute
#    except the start time and measurement wall times);
#  - the aggregation waits for the requeued task and then completes.
# Slurm holds a requeued job back until the credential of its first start
# has expired (BeginTime; 120 s by default): slurm_lib.sh sets 10 s.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLI_DIR/slurm_lib.sh"
setup_tmp

WORK="$TMP/work"
RESULTS="$WORK/results"
mkdir -p "$WORK"
BASE=(--data-dir "$DATA_DIR" --val-limit 500 --per-class 3 --val-per-class 2 --eval-examples 200
      --distance-bins 10 --progress-seconds 1)
# Row 1 trains ~10 s on 2 ranks: long enough to be interrupted mid-way.
cat >"$WORK/preempt.grid" <<'EOF'
name   train-limit  steps  measure-log  widths   batch-size
short  2000         20     2            16       16
long   10000        1500   4            128,128  64
EOF
LONG=(--train-limit 10000 --steps 1500 --measure-log 4 --widths 128,128 --batch-size 64)

# Ranks that share the 2 cores with the daemons should not busy-wait in MPI.
export OMPI_MCA_mpi_yield_when_idle=1

# The uninterrupted reference: same options in the same order as
# grid.sbatch passes them (row, then extra options, then --output) and the
# same output path, run first and moved aside, so that the command line and
# config it records are identical too.
mkdir -p "$RESULTS"
run_ok 2 "$TMP/reference" "${LONG[@]}" "${BASE[@]}" --output "$RESULTS/long.h5" ||
  die "the reference run failed"
mv "$RESULTS/long.h5" "$TMP/reference.h5"

start_slurm "$TMP/slurm"
export STIFFNESS_ROOT="$STIFFNESS_SRC" STIFFNESS_BIN STIFFNESS_PYTHON="$PY"
cd "$WORK" || die "cannot enter $WORK"
bash "$STIFFNESS_SRC/slurm/submit-grid.sh" --results "$RESULTS" \
  --sbatch "--ntasks=2 --cpus-per-task=1 --time=30" --aggregate-sbatch "--time=10" \
  "$WORK/preempt.grid" "${BASE[@]}" >"$TMP/submit.out" 2>&1 ||
  { cat "$TMP/submit.out" >&2; slurm_diagnose; die "submit-grid.sh failed"; }
cat "$TMP/submit.out"
array_id=$(sed -n 's/^ARRAY_JOB_ID=//p' "$TMP/submit.out")
agg_id=$(sed -n 's/^AGGREGATE_JOB_ID=//p' "$TMP/submit.out")
[[ $array_id =~ ^[0-9]+$ && $agg_id =~ ^[0-9]+$ ]] || die "submit-grid.sh printed no job ids"
task="${array_id}_1"
task_log="$RESULTS/logs/stiffness-grid-${array_id}_1.out"

# Wait until task 1 has trained 100+ steps, then warn it as Slurm would.
signalled=0
for _ in $(seq 1 240); do
  if [[ -f $task_log ]] && grep -Eq 'step [0-9]{3,}/1500' "$task_log"; then
    log "task $task is training: sending SIGUSR1 to its batch shell"
    scancel --batch --signal=USR1 "$task" && signalled=1
    break
  fi
  if grep -q 'done in' "$task_log" 2>/dev/null; then break; fi
  sleep 0.5
done
((signalled)) || { slurm_diagnose; cat "$task_log" >&2; die "task $task never got to training (or finished first)"; }

# It should checkpoint, exit 3 and requeue itself.
requeued=0
for _ in $(seq 1 120); do
  if scontrol -o show job "$task" 2>/dev/null | grep -q 'JobState=PENDING.*Restarts=1'; then
    requeued=1
    break
  fi
  sleep 0.5
done
if ((requeued)); then
  log "task $task requeued itself: $(job_states "$task")"
else
  fail "task $task was not requeued after the signal"
  cat "$task_log" >&2
fi

wait_jobs 240 "$array_id" "$agg_id" || { slurm_diagnose; fail "jobs still queued or running after 240 s"; }
job_states "$array_id" | tee "$TMP/array.states"
job_states "$agg_id" | tee "$TMP/agg.states"
grep -q 'ArrayTaskId=1 .*JobState=COMPLETED .*Restarts=1 .*ExitCode=0:0' "$TMP/array.states" ||
  fail "task 1 should have COMPLETED with exit 0 after one restart"
grep -q 'ArrayTaskId=0 .*JobState=COMPLETED .*Restarts=0 .*ExitCode=0:0' "$TMP/array.states" ||
  fail "task 0 should have COMPLETED once, without a restart (requeue named the whole array?)"
grep -q 'JobState=COMPLETED .*ExitCode=0:0' "$TMP/agg.states" || fail "the aggregation did not complete"

grep -q 'SIGUSR1: asking the job step to checkpoint' "$task_log" || fail "the batch script did not forward SIGUSR1"
grep -q 'exit 3); requeueing '"${array_id}_1" "$task_log" || fail "the batch script did not requeue ${array_id}_1"
grep -q 'resuming from' "$task_log" || fail "the restarted task did not resume from the checkpoint"
[[ -e $RESULTS/long.h5.ckpt || -e $RESULTS/long.h5.partial ]] && fail "checkpoint or .partial left behind"
[[ -f $RESULTS/long.h5 ]] || fail "the interrupted run's file is missing"

# Everything equal apart from timings and memory high-water marks.
"$PY" "$CLI_DIR/same_run.py" "$TMP/reference.h5" "$RESULTS/long.h5" ||
  fail "interrupted and uninterrupted runs differ"

"$PY" "$CLI_DIR/check_aggregate.py" "$RESULTS/aggregate" "$RESULTS/long.h5" "$RESULTS/short.h5" ||
  fail "the aggregation disagrees with the run files"
if ((FAILURES > 0)); then
  tail -n 30 "$task_log" >&2
  slurm_diagnose
fi
finish
