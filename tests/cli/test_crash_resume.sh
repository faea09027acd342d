#!/usr/bin/env bash
# No run lost to a crash (src/nn/checkpoint.cpp): a run checkpoints after
# every measurement; one rank SIGKILLed mid-run leaves <output>.ckpt/ and
# <output>.partial; rerunning the SAME command resumes, cuts the .partial back
# to the checkpoint's measurements (a measurement written after the last
# checkpoint is planted to check that), and the final file equals an
# uninterrupted run's on the same ranks apart from timings. Then: a damaged
# checkpoint and one made with other options are refused with one line naming
# the checkpoint (and the differing option) and --overwrite; `stiffness
# summary` reads the .partial and says the run is incomplete.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

# Same relative --output in two folders: the files' config and command line match.
JOB=("${SMALL[@]}" --model mlp --widths 32,16 --seed 3 --steps 600 --measure-log 7
     --measure-epochs false -o run.h5)
mkdir -p "$TMP/ref" "$TMP/crash"
(cd "$TMP/ref" && run_ok 2 "$TMP/ref/log" "${JOB[@]}") || die "the uninterrupted run failed"

cd "$TMP/crash" || die "no $TMP/crash"
timeout -k 10 120 mpiexec -n 2 --oversubscribe "$STIFFNESS_BIN" train "${JOB[@]}" \
  >"$TMP/crash/first.out" 2>"$TMP/crash/first.err" &
launcher=$!
measured() { grep -s "measured step" "$TMP/crash/first.out" | wc -l; }
for _ in $(seq 1 600); do
  (($(measured) >= 4)) && break
  kill -0 "$launcher" 2>/dev/null || break
  sleep 0.05
done
(($(measured) >= 4)) || die "the run did not reach four measurements: $(tail -n 3 "$TMP/crash/first.err")"
victim=$(pgrep -n -f -- "--measure-epochs false -o run.h5") || die "no rank process found"
log "killing rank process $victim with SIGKILL after $(measured) measurements"
kill -KILL "$victim"
rc=0
wait "$launcher" || rc=$?
((rc != 0)) || fail "the job exited 0 after a rank was killed"
grep -q "done in" "$TMP/crash/first.out" && die "the run finished before the kill; make it longer"
[[ -e run.h5.partial && -e run.h5.ckpt/current && ! -e run.h5 ]] ||
  die "expected run.h5.partial and run.h5.ckpt/current after the kill: $(ls "$TMP/crash")"
gen=$(cat run.h5.ckpt/current)
ck_meas=$(sed -n 's/^measurements //p' "run.h5.ckpt/$gen/state.txt")
ck_step=$(sed -n 's/^step //p' "run.h5.ckpt/$gen/state.txt")
log "checkpoint $gen: step $ck_step, $ck_meas measurements"
((ck_meas >= 3)) || fail "the checkpoint holds $ck_meas measurements, expected >= 3 (one after each)"

# `stiffness summary` on the unfinished file.
"$STIFFNESS_BIN" summary run.h5.partial >"$TMP/summary.out" 2>&1 || fail "summary of the .partial failed"
grep -q "run incomplete" "$TMP/summary.out" || fail "summary does not say the run is incomplete"

# Plant a measurement written after the checkpoint (as if the crash came
# between writing it and checkpointing): the resume must cut it away.
"$PY" - run.h5.partial "$ck_meas" <<'PYEOF' || die "cannot plant a measurement"
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    m = f["measurements"]
    n = int(sys.argv[2])
    for k in list(m):
        if int(k) >= n:
            del m[k]
    f.copy(m["%06d" % (n - 1)], m, name="%06d" % n)
    # And a measurement a crash interrupted: written under
    # /measurement_in_progress, never moved into /measurements.
    g = f.create_group("measurement_in_progress")
    g.create_dataset("K", data=[[1.0]])
    print("planted", len(m), "groups and an unfinished one, checkpoint has", n)
PYEOF
# Readers skip it: the summary still lists only whole measurements.
"$STIFFNESS_BIN" summary --format csv run.h5.partial >"$TMP/summary2.out" 2>&1 ||
  fail "summary of a .partial with an unfinished measurement failed: $(cat "$TMP/summary2.out")"

# A damaged checkpoint: one line naming it and --overwrite; nothing changed.
cp "run.h5.ckpt/$gen/model.pt" "$TMP/model.pt.saved"
head -c 100 "$TMP/model.pt.saved" >"run.h5.ckpt/$gen/model.pt"
rc=0
run_stiffness 2 "$TMP/crash/damaged" "${JOB[@]}" || rc=$?
((rc != 0)) || fail "a truncated checkpoint was accepted"
lines=$(grep -c "error" "$TMP/crash/damaged.err" || true)
grep -q "checkpoint 'run.h5.ckpt' is damaged or truncated.*model.pt.*--overwrite" "$TMP/crash/damaged.err" &&
  ((lines == 1)) || fail "truncated checkpoint: expected one error line naming it and --overwrite: $(cat "$TMP/crash/damaged.err")"
cp "$TMP/model.pt.saved" "run.h5.ckpt/$gen/model.pt"

# Other options: refused naming the option.
rc=0
run_stiffness 2 "$TMP/crash/otherlr" "${JOB[@]}" --lr 0.01 || rc=$?
((rc != 0)) || fail "a checkpoint made with other options was accepted"
grep -q "was made with other options: lr (checkpoint: 0.001, this run: 0.01).*--overwrite" "$TMP/crash/otherlr.err" ||
  fail "other options: expected the differing option named: $(cat "$TMP/crash/otherlr.err")"

# The same command again: resumes and finishes.
run_ok 2 "$TMP/crash/second" "${JOB[@]}" || die "the rerun failed"
grep -q "resuming from run.h5.ckpt at step $ck_step with $ck_meas finished measurements" "$TMP/crash/second.out" ||
  fail "the rerun did not resume from the checkpoint: $(grep -m2 -i 'resum\|error' "$TMP/crash/second".*)"
[[ -e run.h5 && ! -e run.h5.partial && ! -e run.h5.ckpt ]] || fail "files after the rerun: $(ls)"
"$PY" "$CLI_DIR/same_run.py" "$TMP/ref/run.h5" run.h5 || fail "the resumed run differs from the uninterrupted one"
finish
