# Preemption support for the training scripts (run.sbatch, grid.sbatch),
# sourced by them. Defines run_preemptible, which runs one job step and:
#
#  1. starts it in the background, so that this batch shell can take signals
#     while it runs (bash delivers a trapped signal only between commands, and
#     `wait` returns early for it; a foreground srun would delay the trap);
#  2. on SIGUSR1 -- Slurm's warning before the time limit, asked for with
#     `#SBATCH --signal=B:USR1@<seconds>` (B: the batch shell only) -- passes
#     SIGUSR1 on to the step: srun forwards it to every rank (so does mpirun).
#     Each rank of `stiffness train` finishes its current step, the job writes
#     a checkpoint to <output>.ckpt/ and exits with status 3;
#  3. on SIGTERM (scancel, preemption, or the time limit itself) keeps waiting:
#     Slurm signals the ranks itself, and this shell must not end first, or
#     Slurm would kill the step in the middle of writing its checkpoint;
#  4. when the step exits with status 3 (checkpoint written), requeues this
#     job with `scontrol requeue`. The job keeps its id; Slurm starts it again
#     after a while (about two minutes on Slurm 22.05), SLURM_RESTART_COUNT
#     counts the restarts, and `stiffness train`, started with the same
#     options, resumes from <output>.ckpt/ by itself. Needs `#SBATCH --requeue`.
#
# An array task must requeue itself as <array job id>_<task id>: the plain
# SLURM_JOB_ID of a task is fine too, but the array's own id would requeue
# EVERY task of the array.

# The id that `scontrol requeue` must name for this job or array task.
stiffness_requeue_id() {
  if [[ -n ${SLURM_ARRAY_JOB_ID:-} && -n ${SLURM_ARRAY_TASK_ID:-} ]]; then
    echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  else
    echo "${SLURM_JOB_ID}"
  fi
}

# run_preemptible COMMAND [ARGS...]: runs the step, returns its exit status
# (0 after a requeue, which is not a failure of this run; STIFFNESS_REQUEUED=1
# then).
run_preemptible() {
  local step_pid rc
  "$@" &
  step_pid=$!
  # shellcheck disable=SC2064  # expand step_pid now, on purpose
  trap "echo \"[\$(date +%T)] SIGUSR1: asking the job step to checkpoint and stop\" >&2; kill -USR1 ${step_pid} 2>/dev/null || true" USR1
  trap "echo \"[\$(date +%T)] SIGTERM: waiting for the job step to stop\" >&2" TERM

  # `wait` returns early (status > 128) whenever a trapped signal arrives;
  # wait again until the step has really ended, then read its own status
  # (bash keeps it for a later `wait` on the same pid).
  while kill -0 "$step_pid" 2>/dev/null; do
    wait "$step_pid"
  done
  wait "$step_pid"
  rc=$?
  trap - USR1 TERM

  if ((rc == 3)); then
    local id
    id=$(stiffness_requeue_id)
    echo "[$(date +%T)] job step stopped at a checkpoint (exit 3); requeueing ${id} (restart count so far: ${SLURM_RESTART_COUNT:-0})" >&2
    if scontrol requeue "$id"; then
      STIFFNESS_REQUEUED=1  # the output is not there yet, and that is fine
      return 0
    fi
    echo "[$(date +%T)] scontrol requeue ${id} failed; submit the same job again to resume from the checkpoint" >&2
  fi
  return "$rc"
}
