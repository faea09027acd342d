# A real single-node Slurm for the tests of slurm/ (sourced by
# tests/cli/test_slurm_*.sh after lib.sh): munged, slurmctld and slurmd from
# Debian's munge and slurm-wlm packages, run as root in the foreground
# under this shell, with every file (key, config, state, spool, logs) in one
# scratch folder. They are stopped by their PIDs when the test exits.
#
#   start_slurm DIR    starts the daemons (files in a short /tmp folder, logs
#                      copied to DIR at the end); exports SLURM_CONF
#   stop_slurm         stops them (also run by the EXIT trap start_slurm sets)
#   wait_jobs SECS ID...  waits until none of the jobs is pending or running
#   job_states ID      "JobId=.. JobState=.. ExitCode=.. Restarts=.." per job/task
#   slurm_diagnose     prints the daemons' logs and the queue (on failure)
#
# Config after docs/slurm.md ("testing"): SlurmctldHost=localhost, a node
# `localhost` with 2 CPUs, proctrack/linuxproc and task/none (no cgroups, no
# systemd needed), select/cons_tres, MpiDefault=pmix, no accounting database
# (so no sacct: states come from `scontrol show job`, kept for MinJobAge s).
# cred_expire=10: a requeued job waits until the credential of its previous
# start has expired (default 120 s; starting it earlier fails with "Job
# credential revoked"), so the preemption test shortens that lifetime.

SLURM_PIDS=()
SLURM_DIR=""
SLURM_LOGS=""

slurm_free_ports() {
  # Two TCP ports free right now on the loopback address.
  "$PY" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
}

slurm_diagnose() {
  [[ -n $SLURM_DIR ]] || return 0
  echo "---- squeue" >&2
  squeue 2>&1 | head -20 >&2 || true
  local f
  for f in "$SLURM_DIR"/munged.out "$SLURM_DIR"/slurmctld.out "$SLURM_DIR"/slurmd.out; do
    [[ -f $f ]] && { echo "---- $f (last 25 lines)" >&2; tail -n 25 "$f" >&2; }
  done
  return 0
}

stop_slurm() {
  local pid i
  # Jobs still queued or running (a failed or timed-out test) would outlive
  # slurmd in their slurmstepd: cancel them and give them a moment to end.
  if ((${#SLURM_PIDS[@]} == 3)) && [[ -n ${SLURM_CONF:-} ]]; then
    scancel --user=root 2>/dev/null || true
    for _ in $(seq 1 30); do
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  # slurmd first (it ends job steps), then the controller, then munged.
  for ((i = ${#SLURM_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${SLURM_PIDS[$i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SLURM_PIDS=()
  # Keep the daemons' logs with the test's files; drop the short-path folder.
  if [[ -n $SLURM_DIR && -d $SLURM_DIR ]]; then
    mkdir -p "$SLURM_LOGS" && cp "$SLURM_DIR"/*.out "$SLURM_DIR/slurm.conf" "$SLURM_LOGS/" 2>/dev/null
    rm -rf "$SLURM_DIR"
  fi
}

start_slurm() {
  local p ports dir
  SLURM_LOGS=$1
  # Unix socket paths (munged's, and the PMIx server's in the slurmd spool
  # folder) must stay under ~108 characters: keep the daemons' files in a
  # short folder of /tmp; stop_slurm copies their logs to $1 and removes it.
  dir=$(mktemp -d /tmp/stiffness-slurm.XXXXXX) || die "mktemp failed"
  SLURM_DIR=$dir
  for p in munged mungekey slurmctld slurmd sbatch srun scontrol squeue; do
    command -v "$p" >/dev/null ||
      die "'$p' not found: this test needs Debian's slurm-wlm and munge (scripts/install-deps.sh installs them)"
  done
  ((EUID == 0)) || die "the Slurm test runs munged/slurmctld/slurmd itself and must run as root"
  trap 'stop_slurm' EXIT
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" || die "cannot create $dir"
  # munged insists that every user can traverse the socket's folder and that
  # only the owner can read the key.
  chmod 755 "$dir" "$dir/munge"
  mungekey --create --keyfile="$dir/munge/munge.key" || die "mungekey failed"
  chmod 600 "$dir/munge/munge.key"
  munged --foreground --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" >"$dir/munged.out" 2>&1 &
  SLURM_PIDS+=($!)
  for _ in $(seq 1 50); do [[ -S $dir/munge/socket ]] && break; sleep 0.1; done
  [[ -S $dir/munge/socket ]] || { slurm_diagnose; die "munged did not start"; }

  read -r -a ports < <(slurm_free_ports)
  cat >"$dir/slurm.conf" <<EOF
ClusterName=stiffness-test
SlurmctldHost=localhost
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=pmix
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=900
KillWait=15
SlurmdParameters=config_overrides
NodeName=localhost CPUs=2 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -D -c -f "$SLURM_CONF" >"$dir/slurmctld.out" 2>&1 &
  SLURM_PIDS+=($!)
  for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
  scontrol ping 2>/dev/null | grep -q 'is UP' || { slurm_diagnose; die "slurmctld did not come up"; }
  slurmd -D -f "$SLURM_CONF" -N localhost >"$dir/slurmd.out" 2>&1 &
  SLURM_PIDS+=($!)
  for _ in $(seq 1 100); do
    sinfo -h -n localhost -o '%t' 2>/dev/null | grep -qx 'idle' && break
    sleep 0.2
  done
  sinfo -h -n localhost -o '%t' 2>/dev/null | grep -qx 'idle' || { slurm_diagnose; die "slurmd did not register"; }
  log "slurm up: munged, slurmctld, slurmd (pids ${SLURM_PIDS[*]}), ports ${ports[*]}, SLURM_CONF=$SLURM_CONF"
}

# job_states ID: one line per job or array task.
job_states() {
  scontrol -o show job "$1" 2>/dev/null |
    grep -o 'JobId=[0-9]* \|ArrayJobId=[0-9]* \|ArrayTaskId=[0-9]* \|JobState=[A-Z_]* \|Reason=[^ ]* \|Restarts=[0-9]* \|ExitCode=[0-9:]* ' |
    paste -sd ' ' | sed 's/ JobId=/\nJobId=/g'
}

# wait_jobs SECS ID...: 0 once no job is PENDING/RUNNING/REQUEUED etc.; 1 on time-out.
wait_jobs() {
  local secs=$1 id left
  shift
  local end=$(($(date +%s) + secs))
  while (($(date +%s) < end)); do
    left=0
    for id in "$@"; do
      if scontrol -o show job "$id" 2>/dev/null |
        grep -Eq 'JobState=(PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|SUSPENDED|RESIZING|SIGNALING|STAGE_OUT)'; then
        left=1
      fi
    done
    ((left == 0)) && return 0
    sleep 1
  done
  return 1
}
