#!/usr/bin/env bash
# Issue 4's real-data check: the paper's MLP on Fashion-MNIST at two learning
# rates, measured at initialisation, log-spaced steps and every epoch end.
# Prints, per measurement, within/between class cosine stiffness (train-train)
# and the critical lengths (xi, NaN unless the fit crosses zero within the
# data, and the half-stiffness length), then the comparison at equal epochs.
# Usage: jobs/experiment-lr-xi.sh [ranks] [epochs]     (results in results/lr-xi/)
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${1:-2}
EPOCHS=${2:-2}
OUT=results/lr-xi
mkdir -p "$OUT"
[[ $(id -u) == 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for lr in 0.0001 0.001; do
  mpiexec -n "$RANKS" --oversubscribe build/stiffness train --config jobs/quickstart.ini \
    --lr "$lr" --epochs "$EPOCHS" --measure-log 4 --save-params false \
    --output "$OUT/mlp-lr$lr.h5" --overwrite | grep -E "measured|done"
done
/usr/bin/python3 - "$OUT" <<'PY'
import glob, sys, h5py
runs = {}
for path in sorted(glob.glob(sys.argv[1] + "/mlp-lr*.h5")):
    f = h5py.File(path, "r")
    lr = [l.split("=")[1].strip() for l in f.attrs["config"].split("\n") if l.startswith("lr =")][0]
    rows = []
    for name in f["measurements"]:
        m = f["measurements"][name]
        c = m["class_stiffness/train_train"].attrs
        d = m["distance/train_train"].attrs
        rows.append((m.attrs["step"], m.attrs["epoch"], m.attrs["train_loss"], m.attrs["val_accuracy"],
                     c["within_cosine"], c["between_cosine"], d["xi_linear_cosine"],
                     d.get("half_length_cosine", float("nan"))))
    runs[lr] = rows
    print(f"\nlr {lr}  ({path})")
    print(f"{'step':>6} {'epoch':>6} {'train loss':>10} {'val acc':>8} {'within cos':>10} {'between cos':>11} {'xi (fit)':>9} {'half length':>11}")
    for r in rows:
        print(f"{r[0]:>6} {r[1]:>6.2f} {r[2]:>10.4f} {r[3]:>8.3f} {r[4]:>10.4f} {r[5]:>11.4f} {r[6]:>9.3f} {r[7]:>11.3f}")
print("\nhalf-stiffness length (train-train, cosine) at equal epochs:")
lrs = sorted(runs, key=float)
epochs = sorted({round(r[1], 6) for r in runs[lrs[0]]} & {round(r[1], 6) for r in runs[lrs[-1]]})
for e in epochs:
    if e == 0 or abs(e - round(e)) > 1e-9:
        continue
    vals = {lr: [r for r in runs[lr] if abs(r[1] - e) < 1e-9][0][7] for lr in lrs}
    verdict = ("higher lr has the smaller length" if vals[lrs[-1]] < vals[lrs[0]]
               else "higher lr does NOT have the smaller length")
    print(f"  epoch {e:g}: " + ", ".join(f"lr {lr}: {v:.3f}" for lr, v in vals.items()) + f"  -> {verdict}")
PY
