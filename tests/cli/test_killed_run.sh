#!/usr/bin/env bash
# A rank killed in the middle of a run (SIGKILL: no handler, no checkpoint)
# ends the whole job promptly with a non-zero exit, leaves no file under the
# final name, does not touch an earlier finished file beside it, and leaves
# the checkpoint written after its last measurement; a rerun under the same
# name with OTHER options is refused (one line naming the checkpoint, the
# differing option and --overwrite) until --overwrite is given, which then
# finishes normally. (Resuming with the same options: test_crash_resume.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

JOB=("${SMALL[@]}" --model mlp --widths 32,16 --seed 2)

# An earlier finished run in the same folder.
run_ok 2 "$TMP/done" "${JOB[@]}" --steps 6 --measure-log 2 -o "$TMP/done.h5" || die "the reference run failed"
sum_before=$(sha256sum "$TMP/done.h5" | cut -d' ' -f1)

# A long run (measurements at log-spaced steps up to 10^6); kill one rank
# after its second measurement.
out="$TMP/killed.h5"
timeout -k 10 120 mpiexec -n 2 --oversubscribe "$STIFFNESS_BIN" train "${JOB[@]}" --steps 1000000 \
  --measure-log 40 --measure-epochs false -o "$out" >"$TMP/killed.out" 2>"$TMP/killed.err" &
launcher=$!
measured() { grep -s "measured step" "$TMP/killed.out" | wc -l; }
for _ in $(seq 1 600); do
  (($(measured) >= 2)) && break
  kill -0 "$launcher" 2>/dev/null || break
  sleep 0.1
done
(($(measured) >= 2)) || die "the long run did not reach two measurements"
victim=$(pgrep -n -f -- "-o $out") || die "no rank process of the long run found"
log "killing rank process $victim with SIGKILL"
kill -KILL "$victim"
t0=$(date +%s)
rc=0
wait "$launcher" || rc=$?
elapsed=$(($(date +%s) - t0))
((rc != 0)) || fail "the job exited 0 after a rank was killed"
((rc != 124)) || fail "the job hung after a rank was killed (timeout)"
((elapsed <= 60)) || fail "the job took ${elapsed}s to end after a rank was killed"
[[ ! -e $out ]] || fail "a file under the final name $out exists after the kill"
[[ -e $out.partial ]] || fail "the finished measurements' file $out.partial is gone"
[[ -e $out.ckpt/current ]] || fail "no checkpoint $out.ckpt/current after two measurements"
[[ $(sha256sum "$TMP/done.h5" | cut -d' ' -f1) == "$sum_before" ]] || fail "the earlier finished file changed"
pgrep -f -- "-o $out" >/dev/null && fail "rank processes of the killed run are still alive"

# Rerun under the same name: refused while the .partial is there...
rc=0
run_stiffness 2 "$TMP/rerun" "${JOB[@]}" --steps 6 --measure-log 2 -o "$out" || rc=$?
((rc != 0)) || fail "a rerun over the killed run's .partial was not refused"
grep -q "killed.h5.ckpt' was made with other options: measure-epochs (checkpoint: false, this run: true)" \
  "$TMP/rerun.err" && grep -q -- "--overwrite" "$TMP/rerun.err" ||
  fail "the refusal does not name the checkpoint, the option and --overwrite: $(head -c 300 "$TMP/rerun.err")"
[[ ! -e $out ]] || fail "the refused rerun created $out"
# ... and replaced with --overwrite.
run_ok 2 "$TMP/overwrite" "${JOB[@]}" --steps 6 --measure-log 2 --overwrite -o "$out"
[[ -e $out && ! -e $out.partial && ! -e $out.ckpt ]] || fail "--overwrite did not finish $out"
"$PY" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); assert len(f['measurements']) >= 2, list(f)" "$out" ||
  fail "the overwritten file is not a complete run"

finish
