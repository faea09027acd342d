#!/usr/bin/env bash
# Scale in N through the real job: the MLP (784-500-300-100-10, float32) on
# synthetic 28 x 28 data, one measurement at step 0, the file written. One
# JSON line per case (results/scale.jsonl, or $SCALE_OUT) with the
# measurement's seconds, the whole process's seconds, the Gram's GFLOP/s, the
# SGEMM rate (stiffness_bench on the same ranks, just before), K's write rate
# and the disk's sequential rate (both from the job's log), peak RSS per
# rank (@peak_rss_mb, the largest over ranks), and for a stored K the check
# of its diagonal and a few rows against explicit per-example gradients
# (bench/check_big_k.py).
#
#   bench/scale.sh                      # the cases below
#   SCALE_CASES="20000:2:float32" bench/scale.sh
#   SCALE_ARGS="--panel-mb 64" bench/scale.sh   # more options for the job
#
# A case is N:RANKS:STORE, STORE = float32 | float64 (K stored in that
# precision) or none. Cases that need more disk than is free are skipped with
# a line that says so. Files go to $SCALE_DIR (default results/scale) and are
# removed after the check unless SCALE_KEEP=1.
set -uo pipefail
[[ $(id -u) == 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/build/stiffness"
BENCH="$ROOT/build/bench/stiffness_bench"
CASES=${SCALE_CASES:-"50000:2:float32 100000:2:none 50000:1:float32 100000:1:none"}
DIR=${SCALE_DIR:-$ROOT/results/scale}
OUT=${SCALE_OUT:-$ROOT/results/scale.jsonl}
mkdir -p "$DIR" "$(dirname "$OUT")"
[[ -x $BIN && -x $BENCH ]] || { echo "scale.sh: build first (scripts/build.sh): $BIN or $BENCH missing" >&2; exit 1; }

for c in $CASES; do
  IFS=: read -r N P STORE <<<"$c"
  [[ $N =~ ^[0-9]+$ && $P =~ ^[0-9]+$ && $STORE =~ ^(float32|float64|none)$ ]] \
    || { echo "scale.sh: bad case '$c', expected N:RANKS:float32|float64|none" >&2; exit 2; }
  # N/2 train and N/2 validation examples over 10 classes.
  per=$((N / 20))
  bytes=0
  [[ $STORE == float32 ]] && bytes=$((N * N * 4))
  [[ $STORE == float64 ]] && bytes=$((N * N * 8))
  need=$((bytes + (2 << 30)))  # K, the sample's inputs, slack
  free=$(($(df --output=avail -B1 "$DIR" | tail -1)))
  if ((free < need)); then
    printf '{"case": "scale", "N": %d, "ranks": %d, "store": "%s", "skipped": "needs %.1f GB of disk, %.1f GB free in %s"}\n' \
      "$N" "$P" "$STORE" "$(bc -l <<<"$need/1e9")" "$(bc -l <<<"$free/1e9")" "$DIR" | tee -a "$OUT"
    continue
  fi
  # The SGEMM rate on the same ranks and threads, measured just before.
  sgemm=$(mpiexec --oversubscribe -n "$P" "$BENCH" --model mlp --n 256 --method auto --repeat 1 2>/dev/null |
          /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["sgemm_gflops"])')
  file="$DIR/mlp_n${N}_np${P}.h5"
  log="$DIR/mlp_n${N}_np${P}.log"
  store_k=last kdt=$STORE
  [[ $STORE == none ]] && store_k=none kdt=float32
  echo "scale.sh: N = $N on $P rank(s), K: $STORE (log: $log)" >&2
  start=$(date +%s.%N)
  mpiexec --oversubscribe -n "$P" "$BIN" train --data-format synthetic --synthetic-size 28 \
    --synthetic-train-per-class "$per" --synthetic-val-per-class "$per" --per-class "$per" --val-per-class "$per" \
    --model mlp --widths 500,300,100 --steps 1 --measure-log 0 --measure-epochs 0 --batch-size 64 \
    --eval-examples 1000 --store-k "$store_k" --k-dtype "$kdt" --checkpoint-minutes 0 \
    --progress-seconds 30 ${SCALE_ARGS:-} -o "$file" --overwrite >"$log" 2>&1
  rc=$?
  wall=$(bc -l <<<"$(date +%s.%N) - $start")
  if ((rc != 0)); then
    printf '{"case": "scale", "N": %d, "ranks": %d, "store": "%s", "error": "exit %d, see %s"}\n' "$N" "$P" "$STORE" "$rc" "$log" | tee -a "$OUT"
    continue
  fi
  disk=$(sed -n 's/.*output disk: \([0-9.]*\) GB\/s.*/\1/p' "$log" | head -1)
  check='{}'
  [[ $STORE != none ]] && check=$(/usr/bin/python3 "$ROOT/bench/check_big_k.py" "$file")
  /usr/bin/python3 - "$file" "$N" "$P" "$STORE" "$wall" "$sgemm" "${disk:--1}" "$check" <<'PY' | tee -a "$OUT"
import json, os, sys
import h5py
path, n, p, store, wall, sgemm, disk, check = sys.argv[1:]
with h5py.File(path, "r") as f:
    m = f["measurements"][sorted(f["measurements"])[-1]]
    a = m.attrs
    row = {"case": "scale", "model": "mlp 784-500-300-100-10", "N": int(n), "ranks": int(p), "store": store,
           "seconds": round(float(a["seconds"]), 2), "process_seconds": round(float(wall), 2),
           "gram_gflops": round(float(a["gram_gflops"]), 1), "sgemm_gflops": round(float(sgemm), 1),
           "gram_vs_sgemm": round(float(a["gram_gflops"]) / float(sgemm), 3),
           "write_gbps": round(float(a["write_gbps"]), 3) if "write_gbps" in a else None,
           "disk_gbps": float(disk) if float(disk) > 0 else None,
           "panel_mb": float(a["panel_mb"]), "peak_rss_gb_per_rank": round(float(a["peak_rss_mb"]) / 1024, 2),
           "file_gb": round(os.path.getsize(path) / 1e9, 2)}
row.update({f"check_{k}": v for k, v in json.loads(check).items() if k not in ("file", "N")})
print(json.dumps(row))
PY
  [[ ${SCALE_KEEP:-0} == 1 ]] || rm -f "$file"
done
