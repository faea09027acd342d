#!/usr/bin/env bash
# Issue 10, part 3: the paper's findings on real Fashion-MNIST, as figures.
# The paper's MLP and CNN (jobs/paper-*.ini), Adam at a constant learning
# rate, three learning rates, trained on a small subset of the training set
# so that validation loss starts to rise within the budget; measured at
# initialisation, log-spaced steps and every epoch end. Then `stiffness
# aggregate` draws the figures (copied to docs/figures/) and a summary of the
# paper's claims, measured, replaces the marked section of docs/results.md.
#
# Usage: jobs/reproduce-paper.sh          (build first; 2 ranks)
# Time, estimated from one CNN epoch at these settings (1.5 s of training and
# 2 s per measurement on the 2-core machine, 2026-12-02): about 7 minutes for
# the three CNN runs and 4 for the MLP runs; well under 30 on a busy machine.
# Every size can be overridden for a quick dry run, e.g.
#   REPRO_MLP_EPOCHS=2 REPRO_CNN_EPOCHS=1 REPRO_TRAIN_LIMIT=300 REPRO_PER_CLASS=5 \
#   REPRO_VAL_PER_CLASS=5 REPRO_EVAL=300 REPRO_OUT=/tmp/repro REPRO_FIGURES=/tmp/repro/fig \
#   REPRO_RESULTS=/tmp/repro/results.md jobs/reproduce-paper.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${REPRO_RANKS:-2}
LRS=${REPRO_LRS:-"0.0001 0.0003 0.001"}
TRAIN_LIMIT=${REPRO_TRAIN_LIMIT:-2000}  # the training subset: small enough to overfit
MLP_EPOCHS=${REPRO_MLP_EPOCHS:-80}
CNN_EPOCHS=${REPRO_CNN_EPOCHS:-40}
PER_CLASS=${REPRO_PER_CLASS:-50}        # measured examples per class, from the subset (N = 1000)
VAL_PER_CLASS=${REPRO_VAL_PER_CLASS:-50}
EVAL=${REPRO_EVAL:-2000}                # examples for the train/validation loss
OUT=${REPRO_OUT:-results/reproduce-paper}
FIGURES=${REPRO_FIGURES:-docs/figures}
RESULTS=${REPRO_RESULTS:-docs/results.md}
BIN=build/stiffness
[[ -x $BIN ]] || { echo "reproduce-paper.sh: $BIN not built; run scripts/build.sh first" >&2; exit 1; }
[[ $(id -u) == 0 ]] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT" "$FIGURES"
start=$(date +%s)

for model in mlp cnn; do
  epochs=$MLP_EPOCHS
  [[ $model == cnn ]] && epochs=$CNN_EPOCHS
  for lr in $LRS; do
    echo "== $model lr $lr, $epochs epochs on the first $TRAIN_LIMIT training examples"
    rm -f "$OUT/$model-lr$lr.h5"  # never summarise a stale file
    mpiexec -n "$RANKS" --oversubscribe "$BIN" train --config "jobs/paper-$model.ini" \
      --lr "$lr" --epochs "$epochs" --train-limit "$TRAIN_LIMIT" --per-class "$PER_CLASS" \
      --val-per-class "$VAL_PER_CLASS" --eval-examples "$EVAL" --measure-log 6 \
      --save-params false --store-k last --progress-seconds 1000 \
      --output "$OUT/$model-lr$lr.h5" --overwrite | grep -E "measured|done" | tail -1 || true
    [[ -f $OUT/$model-lr$lr.h5 ]] || { echo "reproduce-paper.sh: run $model lr $lr wrote no file" >&2; exit 1; }
  done
done

"$BIN" aggregate "$OUT"/*.h5 --output-dir "$OUT/aggregate" >"$OUT/aggregate.log"
head -1 "$OUT/aggregate.log"
cp "$OUT"/aggregate/*.png "$FIGURES"/
minutes=$(( ($(date +%s) - start + 59) / 60 ))

# The summary: numbers from the aggregate CSV, each claim of the paper
# checked as measured (it may fail to show), into the marked section.
/usr/bin/python3 - "$OUT/aggregate/runs.csv" "$RESULTS" "$FIGURES" "$minutes" \
  "REPRO_LRS='$LRS' REPRO_TRAIN_LIMIT=$TRAIN_LIMIT REPRO_MLP_EPOCHS=$MLP_EPOCHS REPRO_CNN_EPOCHS=$CNN_EPOCHS REPRO_PER_CLASS=$PER_CLASS REPRO_VAL_PER_CLASS=$VAL_PER_CLASS REPRO_EVAL=$EVAL" <<'PY'
import csv, math, os, sys
from collections import defaultdict
csv_path, results, figures, minutes, settings = sys.argv[1:6]
rows = list(csv.DictReader(open(csv_path)))
num = lambda v: float(v) if v not in ("", None) else math.nan
runs = defaultdict(list)  # (model, lr) -> train_train rows in step order
sets = defaultdict(dict)  # (model, lr, step) -> {pair set: row}
for r in rows:
    key = (r["model"], float(r["lr"]))
    sets[key + (int(r["step"]),)][r["pair_set"]] = r
    if r["pair_set"] == "train_train":
        runs[key].append(r)
out = []
say = out.append
say("<!-- reproduce-paper:begin (written by jobs/reproduce-paper.sh; do not edit by hand) -->")
say("## The paper's findings on real data (issue 10)\n")
say(f"Command: `jobs/reproduce-paper.sh` ({minutes} minutes on this machine; settings "
    f"`{settings}`). Figures: `{figures}/` (the `stiffness aggregate` figures). "
    "Train–train pairs unless said; `onset` is the measurement with the lowest validation loss.\n")
say("| model | lr | epochs | onset epoch | train loss end | val loss min / end | within cos early | between cos early | within cos onset | within cos end | between cos end | half length first / end |")
say("|---|---|---|---|---|---|---|---|---|---|---|---|")
summary = {}
for (model, lr), rs in sorted(runs.items()):
    early = next((r for r in rs if int(r["step"]) > 0), rs[0])
    vl = [num(r["val_loss"]) for r in rs]
    k = min(range(len(vl)), key=lambda i: vl[i])
    onset, end = rs[k], rs[-1]
    halves = [num(r["half_length"]) for r in rs]
    summary[(model, lr)] = dict(early=early, onset=onset, end=end, rs=rs, k=k)
    say(f"| {model} | {lr:g} | {num(end['epoch']):.0f} | {num(onset['epoch']):.2f}{'' if k < len(rs) - 1 else ' (still falling)'} "
        f"| {num(end['train_loss']):.3g} | {min(vl):.3f} / {vl[-1]:.3f} "
        f"| {num(early['within_cosine']):.3f} | {num(early['between_cosine']):.3f} "
        f"| {num(onset['within_cosine']):.3f} | {num(end['within_cosine']):.3f} | {num(end['between_cosine']):.3f} "
        f"| {halves[0]:.3f} / {halves[-1]:.3f} |")
say("")
def verdict(ok):
    return "shown" if ok else "NOT shown"
claims = []
w_gt_b = all(num(s["early"]["within_cosine"]) > num(s["early"]["between_cosine"]) for s in summary.values())
claims.append(f"- Within-class above between-class stiffness early in training: {verdict(w_gt_b)} "
              "(every run at its first measurement after initialisation).")
falling = [key for key, s in summary.items() if s["k"] < len(s["rs"]) - 1 and
           num(s["end"]["within_cosine"]) < num(s["onset"]["within_cosine"])]
over = [key for key, s in summary.items() if s["k"] < len(s["rs"]) - 1]
claims.append(f"- Stiffness falling as overfitting sets in: validation loss rose after its minimum in "
              f"{len(over)} of {len(summary)} runs; within-class cosine stiffness at the end was below its value at "
              f"the onset in {len(falling)} of those ({', '.join(f'{m} {lr:g}' for m, lr in falling) or 'none'}).")
alike = []
for key, s in summary.items():
    st = int(s["end"]["step"])
    v = [num(sets[key + (st,)][p]["within_cosine"]) for p in ("train_train", "train_val", "val_val")
         if p in sets[key + (st,)]]
    alike.append(max(v) - min(v))
claims.append(f"- Train–train, train–val and val–val alike: largest spread of within-class cosine stiffness "
              f"between the three at the last measurement {max(alike):.3f}.")
shrink = [key for key, s in summary.items()
          if num(s["end"]["half_length"]) < num(s["rs"][0]["half_length"])]
claims.append(f"- Half-stiffness length shrinking with training (last against first measurement): "
              f"{len(shrink)} of {len(summary)} runs. ξ inside the data at the last measurement: "
              + ", ".join(f"{m} {lr:g}: {s['end']['xi'] or 'n/a'} ({s['end'].get('xi_status', '')})"
                          for (m, lr), s in sorted(summary.items())) + ".")
for model in sorted({m for m, _ in summary}):
    lrs = sorted(lr for m, lr in summary if m == model)
    if len(lrs) < 2:
        continue
    ends = [num(summary[(model, lr)]["end"]["half_length"]) for lr in lrs]
    claims.append(f"- {model}: half-stiffness length at the end, by increasing lr: "
                  + ", ".join(f"{v:.3f}" for v in ends)
                  + f" ({verdict(all(a > b for a, b in zip(ends, ends[1:])))}: smaller for higher lr).")
    # equal epoch: every epoch measured in all runs of this model
    common = set.intersection(*[{round(num(r["epoch"]), 6) for r in summary[(model, lr)]["rs"]} for lr in lrs])
    common = sorted(e for e in common if e > 0 and abs(e - round(e)) < 1e-9)
    wins = 0
    for e in common:
        v = [num(next(r for r in summary[(model, lr)]["rs"] if abs(num(r["epoch"]) - e) < 1e-9)["within_cosine"])
             for lr in lrs]
        wins += all(a >= b for a, b in zip(v, v[1:]))
    claims.append(f"- {model}: lower lr with higher within-class stiffness at equal epoch: at {wins} of {len(common)} "
                  "epoch ends measured.")
    # equal training loss: interpolate each run's within cosine in log(train loss)
    def at_loss(lr, L):
        rs = summary[(model, lr)]["rs"]
        pts = sorted((math.log(num(r["train_loss"])), num(r["within_cosine"])) for r in rs)
        x = math.log(L)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if x0 <= x <= x1 and x1 > x0:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return math.nan
    lo = max(min(num(r["train_loss"]) for r in summary[(model, lr)]["rs"]) for lr in lrs)
    hi = min(max(num(r["train_loss"]) for r in summary[(model, lr)]["rs"]) for lr in lrs)
    levels = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * t) for t in (0.1, 0.5, 0.9)] if lo < hi else []
    parts = []
    for L in levels:
        v = [at_loss(lr, L) for lr in lrs]
        parts.append(f"loss {L:.4g}: " + ", ".join(f"{x:.3f}" for x in v))
    claims.append(f"- {model}: within-class cosine stiffness at equal training loss, by increasing lr: "
                  + ("; ".join(parts) if parts else "no common loss range") + ".")
say("What the runs show (each line computed by the script from the CSV):\n")
out += claims
say("<!-- reproduce-paper:end -->")
text = open(results).read() if os.path.exists(results) else ""
b, e = "<!-- reproduce-paper:begin", "<!-- reproduce-paper:end -->"
if b in text and e in text:
    text = text[:text.index(b)] + "\n".join(out) + text[text.index(e) + len(e):]
else:
    text = text.rstrip("\n") + "\n\n" + "\n".join(out) + "\n"
open(results, "w").write(text)
print("\n".join(out))
PY
