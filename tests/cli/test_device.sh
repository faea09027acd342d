#!/usr/bin/env bash
# --device on a machine without a usable GPU (CI: Debian's CPU-only LibTorch):
#  - `--device cuda` exits non-zero on 1 and 2 ranks with ONE error line that
#    says which of CUDA LibTorch / NCCL backend / visible GPU is missing, and
#    leaves no output file;
#  - `--device auto` runs on the CPU, logs each rank's device and why, and
#    gives the same file as `--device cpu` (bit for bit: the same code path);
#  - a bad --device value is refused by name.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

JOB=(--data-format synthetic --synthetic-train-per-class 40 --synthetic-val-per-class 10 --per-class 3
     --val-per-class 2 --batch-size 16 --steps 6 --measure-log 2 --progress-seconds 1000)

for p in 1 2; do
  rc=0
  run_stiffness "$p" "$TMP/cuda$p" "${JOB[@]}" --device cuda --output "$TMP/cuda$p.h5" || rc=$?
  ((rc != 0 && rc != 124)) || fail "--device cuda on $p rank(s): exit $rc, expected a clean failure"
  n=$(grep -c '^stiffness: error: ' "$TMP/cuda$p.err")
  [[ $n == 1 ]] || fail "--device cuda on $p rank(s): $n error lines, expected 1: $(cat "$TMP/cuda$p.err")"
  grep -Eq '^stiffness: error: --device cuda: (this LibTorch .* was built without CUDA|no NCCL backend|no CUDA device is visible)' \
    "$TMP/cuda$p.err" || fail "--device cuda: the error does not say what is missing: $(head -n 1 "$TMP/cuda$p.err")"
  ! grep -q 'MPI_ABORT' "$TMP/cuda$p.err" || fail "--device cuda on $p rank(s) went through MPI_Abort"
  [[ ! -e $TMP/cuda$p.h5 && ! -e $TMP/cuda$p.h5.partial ]] || fail "--device cuda left an output file"
done

run_ok 2 "$TMP/auto" "${JOB[@]}" --device auto --output "$TMP/auto.h5"
for r in 0 1; do
  grep -q "device: rank $r on .*: CPU (--device auto: " "$TMP/auto.out" ||
    fail "--device auto: no log line saying rank $r chose the CPU and why"
done
run_ok 2 "$TMP/cpu" "${JOB[@]}" --device cpu --output "$TMP/cpu.h5"
grep -q "device: rank 1 on .*: CPU (--device cpu)" "$TMP/cpu.out" || fail "--device cpu: no device line"
"$PY" - "$TMP/auto.h5" "$TMP/cpu.h5" <<'PY' || fail "--device auto and --device cpu files differ"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ma, mb = sorted(a["measurements"]), sorted(b["measurements"])
assert ma == mb and len(ma) >= 2, (ma, mb)
for m in ma:
    ka, kb = a["measurements"][m]["K"][()], b["measurements"][m]["K"][()]
    assert ka.shape == (50, 50) and np.array_equal(ka, kb), m
PY

rc=0
run_stiffness 1 "$TMP/bad" "${JOB[@]}" --device gpu --output "$TMP/bad.h5" || rc=$?
((rc != 0)) || fail "--device gpu was accepted"
grep -q "^stiffness: error: --device: expected cpu, cuda or auto, got 'gpu'" "$TMP/bad.err" ||
  fail "--device gpu: unclear error: $(cat "$TMP/bad.err")"
finish
