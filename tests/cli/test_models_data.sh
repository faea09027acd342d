#!/usr/bin/env bash
# Issue 4 end to end: every dataset format and model through the real job,
# 100 classes with super-classes (a 3000-example sample), and rank agreement
# for ResNet20 (GroupNorm, BatchNorm) and the transformer.
source "$(dirname "$0")/lib.sh"
setup_tmp
"$PY" "$CLI_DIR/make_data.py" "$TMP/data" || die "cannot make the test data"

COMMON=(--steps 6 --measure-log 1 --measure-epochs false --eval-examples 100 --batch-size 8
        --progress-seconds 1000 --distance-bins 8)

# 1. Synthetic, 100 classes in 20 super-classes, N = 100 x (20 + 10) = 3000.
run_ok 2 "$TMP/syn100" --data-format synthetic --num-classes 100 --num-coarse 20 \
  --synthetic-train-per-class 20 --synthetic-val-per-class 10 --per-class 20 --val-per-class 10 \
  --model mlp --widths 16 "${COMMON[@]}" --output "$TMP/syn100.h5"

# 2. CIFAR-10 (cnn) and CIFAR-100 (mlp, coarse labels interleaved in the files).
run_ok 2 "$TMP/c10" --data-format cifar10 --data-dir "$TMP/data/cifar10" --per-class 3 \
  --val-per-class 2 --model cnn --channels 4,4,4 "${COMMON[@]}" --output "$TMP/c10.h5"
run_ok 3 "$TMP/c100" --data-format cifar100 --data-dir "$TMP/data/cifar100" --num-classes 0 \
  --per-class 2 --val-per-class 1 --model mlp --widths 8 "${COMMON[@]}" --output "$TMP/c100.h5"

# 3. ResNet20 and the transformer: 1 rank against 3 (float64).
for norm in group batch; do
  for p in 1 3; do
    run_ok $p "$TMP/res-$norm-$p" --data-format synthetic --num-classes 4 --synthetic-size 8 \
      --per-class 3 --val-per-class 2 --model resnet20 --norm $norm --norm-groups 4 --dtype float64 \
      "${COMMON[@]}" --output "$TMP/res-$norm-$p.h5"
  done
done
for p in 1 3; do
  run_ok $p "$TMP/tf-$p" --data-format hdf5 --data-dir "$TMP/data/tokens.h5" --num-classes 0 \
    --per-class 3 --val-per-class 2 --model transformer --vocab-size 20 --embed-dim 8 --heads 2 \
    --layers 1 --dtype float64 "${COMMON[@]}" --output "$TMP/tf-$p.h5"
done

"$PY" - "$TMP" <<'PY' || fail "file checks failed"
import sys
import h5py
import numpy as np

tmp = sys.argv[1]
bad = []

def check(cond, what):
    if not cond:
        bad.append(what)

def meas(f):
    return [f["measurements"][k] for k in sorted(f["measurements"])]

with h5py.File(f"{tmp}/syn100.h5", "r") as f:
    m = meas(f)[-1]
    check(m["K"].shape == (3000, 3000), "syn100: K is 3000 x 3000")
    check(m["class_stiffness/train_val/cosine"].shape == (100, 100), "syn100: 100 x 100 class matrix")
    check(m["coarse_class_stiffness/val_val/cosine"].shape == (20, 20), "syn100: 20 x 20 coarse matrix")
    check(m["class_stiffness/train_train/pairs"][:].sum() == 2000 * 1999, "syn100: train pairs")

with h5py.File(f"{tmp}/c100.h5", "r") as f:
    order = f["sample/class_order"][:]
    label, coarse = f["sample/label"][:], f["sample/coarse_label"][:]
    coarse_of = {l: c for l, c in zip(label, coarse)}
    seq = [coarse_of[c] for c in order]
    check(sorted(order) == list(range(100)), "c100: class_order is a permutation of 100 classes")
    check(seq == sorted(seq), "c100: class matrix rows grouped by super-class")
    check(np.all(np.diff([coarse_of[l] for l in label[:200]]) >= 0), "c100: train sample ordered by super-class")
    m = meas(f)[0]
    check(m["coarse_class_stiffness/train_train/cosine"].shape == (20, 20), "c100: 20 x 20 coarse")
    # The coarse matrix from K directly, for one entry.
    K = m["K"][:]
    d = np.sqrt(np.diag(K))
    cos = K / np.outer(d, d)
    tr = f["sample/split"][:] == 0
    a = np.where(tr & (coarse == 3))[0]
    b = np.where(tr & (coarse == 5))[0]
    check(abs(cos[np.ix_(a, b)].mean() - m["coarse_class_stiffness/train_train/cosine"][3, 5]) < 1e-9,
          "c100: coarse entry (3, 5) equals the mean cosine over its pairs")

with h5py.File(f"{tmp}/c10.h5", "r") as f:
    check(f["sample/inputs"].shape[1:] == (3, 32, 32), "c10: inputs 3 x 32 x 32")
    check(f.attrs["complete"] == 1, "c10: complete")

def agree(a, b, only_first=False):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ma, mb = meas(fa), meas(fb)
        check(len(ma) == len(mb) and len(ma) >= 2, f"{a}: same measurement count")
        for x, y in list(zip(ma, mb))[: 1 if only_first else None]:
            ka, kb = x["K"][:], y["K"][:]
            rel = np.abs(ka - kb).max() / np.abs(ka).max()
            check(rel <= 1e-5, f"{a} vs {b} step {x.attrs['step']}: K differs by {rel:.2g}")

agree(f"{tmp}/res-group-1.h5", f"{tmp}/res-group-3.h5")
# BatchNorm trains with each rank's shard statistics, so only the
# measurement before training is rank-independent.
agree(f"{tmp}/res-batch-1.h5", f"{tmp}/res-batch-3.h5", only_first=True)
agree(f"{tmp}/tf-1.h5", f"{tmp}/tf-3.h5")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
print(f"checked {5} files; {len(bad)} problem(s)")
sys.exit(1 if bad else 0)
PY
finish
