#!/usr/bin/env bash
# A node failure on a real single-node Slurm (tests/cli/slurm_lib.sh): a run
# of slurm/run.sbatch is training after a few measurements (so it has a
# checkpoint) when its node "dies": slurmd is frozen (SIGSTOP, as a node that
# stops answering), every process of the job is SIGKILLed (no signal handler
# runs, no checkpoint is written on the way out) and the node is declared
# DOWN, as slurmctld does once SlurmdTimeout has passed; then the node
# "reboots" (a fresh slurmd). Slurm itself must
# requeue the job (#SBATCH --requeue); once the node is back the job starts
# again under the same id, resumes from the last periodic checkpoint and
# finishes with every scheduled measurement.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CLI_DIR/slurm_lib.sh"
setup_tmp
start_slurm "$TMP/slurm"

WORK="$TMP/work"
mkdir -p "$WORK"
export STIFFNESS_ROOT="$STIFFNESS_SRC" STIFFNESS_BIN STIFFNESS_PYTHON="$PY"
export OMPI_MCA_mpi_yield_when_idle=1
cd "$WORK" || die "cannot enter $WORK"
OUT="$WORK/nodefail.h5"
JOB=("${SMALL[@]}" --model mlp --widths 32,16 --steps 1500 --measure-log 7 --measure-epochs false
     --output "$OUT")
job=$(sbatch --parsable --ntasks=1 --cpus-per-task=1 --time=30 "$STIFFNESS_SRC/slurm/run.sbatch" \
  "$STIFFNESS_SRC/jobs/quickstart.ini" "${JOB[@]}") || die "sbatch failed"
job=${job%%;*}
LOG="$WORK/stiffness-$job.out"
log "job $job submitted; waiting for its fourth measurement"
measured() { grep -s -c "measured step" "$LOG"; }
for _ in $(seq 1 600); do
  (($(measured) >= 4)) && [[ -e $OUT.ckpt/current ]] && break
  grep -q "done in" "$LOG" 2>/dev/null && break
  sleep 0.1
done
(($(measured) >= 4)) && [[ -e $OUT.ckpt/current ]] || { slurm_diagnose; cat "$LOG" >&2; die "the run did not reach 4 measurements with a checkpoint"; }
grep -q "done in" "$LOG" && die "the run finished before the node failure; make it longer"

# The node dies: slurmd stops answering, the job's processes vanish.
slurmd_pid=${SLURM_PIDS[2]}
kill -STOP "$slurmd_pid"
victims=$(pgrep -f -- "--output $OUT" | tr '\n' ' ')
stepd=$(pgrep -f "slurmstepd: \[$job" | tr '\n' ' ')
log "node failure: slurmd $slurmd_pid frozen; SIGKILL to job processes $victims and slurmstepd $stepd"
# shellcheck disable=SC2086
kill -KILL $victims $stepd 2>/dev/null
scontrol update NodeName=localhost State=DOWN Reason=node-failure-test || fail "cannot set the node DOWN"
sleep 2
states=$(job_states "$job")
log "after the failure: $states"
grep -Eq 'JobState=(PENDING|REQUEUED|NODE_FAIL)' <<<"$states" || fail "the job was not requeued after the node failure: $states"
# The node reboots: /tmp and the (tmpfs-like) spool lose the dead step's
# PMIx leftovers -- /tmp/spmix_appdir_<uid>_<job>.0 and, in the spool,
# pmix.<job>.0/ and the socket stepd.slurm.pmix.<job>.0. The killed
# slurmstepd never removed them, and while they exist every later step
# <job>.0 (the requeued job keeps its id) fails to launch on this node
# (docs/slurm.md). Then a fresh slurmd starts.
kill -KILL "$slurmd_pid"
wait "$slurmd_pid" 2>/dev/null
rm -rf "/tmp/spmix_appdir_$(id -u)_${job}.0" "$SLURM_DIR/spool/pmix.${job}.0" "$SLURM_DIR/spool/stepd.slurm.pmix.${job}.0"
slurmd -D -f "$SLURM_CONF" -N localhost >"$SLURM_DIR/slurmd-after-reboot.out" 2>&1 &
SLURM_PIDS[2]=$!
sleep 1
scontrol update NodeName=localhost State=RESUME 2>/dev/null || true

wait_jobs 300 "$job" || { slurm_diagnose; fail "the job is still queued or running after 300 s"; }
states=$(job_states "$job")
log "final: $states"
grep -q 'JobState=COMPLETED .*Restarts=1 .*ExitCode=0:0' <<<"$states" ||
  fail "expected COMPLETED with exit 0 after one restart: $states"
grep -q "resuming from $OUT.ckpt at step [0-9]* with [4-9] finished measurements" "$LOG" ||
  fail "the restarted job did not resume from the checkpoint: $(grep -m3 -i 'resum\|error' "$LOG")"
[[ -f $OUT && ! -e $OUT.partial && ! -e $OUT.ckpt ]] || fail "after the restart: $(ls "$WORK")"
"$PY" - "$OUT" <<'PYEOF' || fail "the resumed run's file is wrong"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
steps = list(f["steps"][()])
assert int(f.attrs["complete"]) == 1
assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 1500, steps
assert len(f["measurements"]) == len(steps)
print(f"complete after the node failure: measured at steps {steps}")
PYEOF
((FAILURES == 0)) || { tail -n 30 "$LOG" >&2; slurm_diagnose; }
finish
