#!/usr/bin/env bash
# Ours against the torch.func peer on this machine's CPU, side by side in one
# run with the same threads: for each case, stiffness_bench (--method auto,
# one rank, all cores) and bench/peer_cpu.py (tests/gpu/peer_torchfunc.py on
# python3-torch, torch threads = cores), alternating for ROUNDS rounds, each
# the best of --repeat 3 after a warm-up; then the best of each side, its
# floor and the ratios. Usage:
#   bench/peer.sh [model:N ...]     (default: cnn:1000 resnet20:1000)
#   ROUNDS=2 BENCH_OUT=results/peer.jsonl
# Needs the build (scripts/build.sh) and python3-torch, which it installs when
# missing (only this script uses it: the tests' machines do without).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-build/bench/stiffness_bench}
[[ -x $BIN ]] || { echo "bench/peer.sh: $BIN not built; run scripts/build.sh first" >&2; exit 1; }
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench/peer.sh: installing python3-torch (Debian's torch 1.13) for the peer" >&2
  SUDO=""
  [[ $(id -u) != 0 ]] && SUDO=sudo
  $SUDO apt-get install -y -q python3-torch >/dev/null ||
    { echo "bench/peer.sh: cannot install python3-torch (apt-get install python3-torch)" >&2; exit 1; }
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
CASES=("${@:-cnn:1000 resnet20:1000}")
# shellcheck disable=SC2206
CASES=(${CASES[*]})
ROUNDS=${ROUNDS:-2}
OUT=${BENCH_OUT:-results/peer.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
threads=$(nproc)
for c in "${CASES[@]}"; do
  [[ $c =~ ^(cnn|resnet20|mlp):[0-9]+$ ]] ||
    { echo "bench/peer.sh: case '$c': expected model:N with model cnn, resnet20 or mlp" >&2; exit 1; }
done
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${CASES[@]}"; do
    model=${c%%:*} n=${c##*:}
    echo "round $r: $model N=$n, ours then the peer, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    mpiexec -n 1 "$BIN" --model "$model" --n "$n" --method auto --repeat 3 | tee -a "$OUT"
    /usr/bin/python3 bench/peer_cpu.py --threads "$threads" --case "$c" --repeat 3 | tee -a "$OUT"
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in rows:
    if "seconds" not in r:
        continue
    key = (r["model"], r["N"], "peer" if "peer" in r else "ours")
    if key not in best or r["seconds"] < best[key]["seconds"]:
        best[key] = r
print("\nbest of all rounds (seconds; floor = gradient pass + Gram FLOPs at the SGEMM rate of our process):")
print("| model | N | ours s | grad s | grad GFLOP/s | SGEMM GFLOP/s | floor s | ours / floor | peer s | peer / ours |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (m, n, side), o in sorted(best.items()):
    if side != "ours":
        continue
    p = best.get((m, n, "peer"))
    ps = f"{p['seconds']:.3f}" if p else "-"
    ratio = f"{p['seconds'] / o['seconds']:.2f}x" if p else "-"
    print(f"| {m} | {n} | {o['seconds']:.3f} | {o['grad_seconds']:.3f} | {o['grad_gflops']:.1f} | "
          f"{o['sgemm_gflops']:.0f} | {o['floor_seconds']:.3f} | {o['vs_floor']:.2f} | {ps} | {ratio} |")
PY
