#!/usr/bin/env bash
# Runs every benchmark case of issue 3 (and ResNet20, issue 11) as its own
# process (peak RSS per case) and prints one JSON line per case, then the
# speed ratios and each auto case's time against its floor measured in this
# run (bench/peer.sh: against the torch.func peer).
# Usage: bench/run.sh [ranks...]   (default: 1 2)
#   BENCH_QUICK=1 bench/run.sh   only the N=1000 cases
# Each case: one untimed warm-up on up to 256 examples, then the best of
# --repeat timed runs (3 up to N = 5000, 1 above).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-build/bench/stiffness_bench}
[[ -x $BIN ]] || { echo "bench/run.sh: $BIN not built; run scripts/build.sh first" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RANKS=("${@:-1 2}")
# shellcheck disable=SC2206
RANKS=(${RANKS[*]})
OUT=${BENCH_OUT:-results/bench.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
cases=("mlp 1000" "cnn 1000" "resnet20 1000")
[[ ${BENCH_QUICK:-0} == 1 ]] || cases+=("mlp 5000" "cnn 5000" "mlp 20000")
for p in "${RANKS[@]}"; do
  for c in "${cases[@]}"; do
    read -r model n <<<"$c"
    methods=(loop materialize factor auto)
    # ResNet20: auto only (it materialises every convolution, as materialize
    # does; its factor form is skipped by the TFLOP budget).
    [[ $model != resnet20 ]] || methods=(auto)
    for method in "${methods[@]}"; do
      # Best of 3 where a case takes seconds (the machine is shared and noisy);
      # N = 20000 runs once.
      repeat=3
      [[ $n -le 5000 ]] || repeat=1
      mpiexec -n "$p" --oversubscribe "$BIN" --model "$model" --n "$n" --method "$method" --repeat "$repeat" |
        tee -a "$OUT"
    done
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = {(r["model"], r["N"], r["ranks"], r["method"]): r for r in rows if "seconds" in r}
print("\nratios measured in this run (same machine, same process setup):")
for (m, n, p, meth), r in sorted(ok.items()):
    if meth != "auto":
        continue
    loop = ok.get((m, n, p, "loop"))
    ratio = f"{loop['seconds'] / r['seconds']:.1f}x faster than loop" if loop else "loop skipped (memory)"
    print(f"  {m} N={n} ranks={p}: auto {r['seconds']:.3f} s, {ratio}; {r['vs_floor']:.2f}x its floor "
          f"({r['floor_seconds']:.3f} s); peak RSS {r['peak_rss_mb'] / 1024:.2f} GB; "
          f"rel err vs loop {r['rel_err_vs_loop']:.2g}")
worst = max(r["rel_err_vs_loop"] for r in ok.values())
print(f"largest relative difference from the loop over all cases: {worst:.2g}")
PY
