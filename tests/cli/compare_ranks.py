#!/usr/bin/env python3
"""Checks that stiffness output files of the same job run on different rank
counts agree.

usage: compare_ranks.py [--tol T] [--cos-tol C] REF.h5:P OTHER.h5:P [OTHER.h5:P ...]

Every FILE:P names an output file and the rank count it was run with (its
`ranks` attribute must equal P). Each OTHER file is compared with REF:
  * same sample (index, label, split, inputs), steps, measurement steps/epochs;
  * every measurement's K: max|K - K_ref| / max|K_ref| <= T;
  * class stiffness: cosine matrices and within/between cosine to C (absolute),
    pair counts exactly, sign matrices exactly (or within what entries of K
    that are ~0 at tolerance T could flip), NaN in the same places;
  * losses/accuracies and parameters to T (relative).
Prints one line per comparison; exits 1 listing every failed check.
"""
import argparse
import sys

import h5py
import numpy as np

errors = []


def check(ok, msg):
    if not ok:
        errors.append(msg)
    return ok


def rel_diff(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b)) if b.size else 0.0
    d = np.max(np.abs(a - b)) if a.size else 0.0
    return d / scale if scale > 0 else d


def same_nan(a, b):
    return np.array_equal(np.isnan(a), np.isnan(b))


def nan_absdiff(a, b):
    m = ~np.isnan(b)
    return float(np.max(np.abs(a[m] - b[m]))) if m.any() else 0.0


def compare(ref, oth, name, tol, cos_tol):
    worst = 0.0
    for key in ("index", "label", "split", "inputs"):
        check(np.array_equal(ref["sample"][key][()], oth["sample"][key][()]),
              f"{name}: /sample/{key} differs from the reference")
    for key in ("num_measurements", "n_examples", "num_classes", "num_params", "complete", "model"):
        check(ref.attrs[key] == oth.attrs[key],
              f"{name}: attribute {key} = {oth.attrs[key]!r}, reference has {ref.attrs[key]!r}")
    check(np.array_equal(ref["steps"][()], oth["steps"][()]),
          f"{name}: steps {oth['steps'][()]} != reference {ref['steps'][()]}")
    rm, om = sorted(ref["measurements"]), sorted(oth["measurements"])
    if not check(rm == om, f"{name}: measurement groups {om} != reference {rm}"):
        return worst
    check(len(rm) >= 2, f"{name}: only {len(rm)} measurement(s); the test wants training steps too")
    for g in rm:
        a, b = ref["measurements"][g], oth["measurements"][g]
        where = f"{name}: measurement {g}"
        for key in ("step", "epoch"):
            check(a.attrs[key] == b.attrs[key], f"{where}: {key} {b.attrs[key]} != reference {a.attrs[key]}")
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            d = abs(float(a.attrs[key]) - float(b.attrs[key])) / max(abs(float(a.attrs[key])), 1e-300)
            check(d <= tol, f"{where}: {key} {b.attrs[key]} vs reference {a.attrs[key]} (rel {d:.3g} > {tol})")
        Ka, Kb = a["K"][()], b["K"][()]
        if not check(Ka.shape == Kb.shape, f"{where}: K shape {Kb.shape} != {Ka.shape}"):
            continue
        check(np.all(np.isfinite(Kb)), f"{where}: K has non-finite entries")
        d = rel_diff(Kb, Ka)
        worst = max(worst, d)
        check(d <= tol, f"{where}: K relative max difference {d:.3g} > {tol}")
        # Entries of K whose sign is not determined at this tolerance.
        n_amb = int(np.sum(np.abs(Ka) <= 2 * tol * np.max(np.abs(Ka))))
        for s in ("train_train", "train_val", "val_val"):
            ca, cb = a["class_stiffness"][s], b["class_stiffness"][s]
            w = f"{where}: class_stiffness/{s}"
            pa, pb = ca["pairs"][()], cb["pairs"][()]
            check(np.array_equal(pa, pb), f"{w}/pairs differ")
            cosa, cosb = ca["cosine"][()], cb["cosine"][()]
            check(same_nan(cosa, cosb), f"{w}/cosine: NaN entries differ")
            dc = nan_absdiff(cosb, cosa)
            check(dc <= cos_tol, f"{w}/cosine: max abs difference {dc:.3g} > {cos_tol}")
            sa, sb = ca["sign"][()], cb["sign"][()]
            check(same_nan(sa, sb), f"{w}/sign: NaN entries differ")
            ds = nan_absdiff(sb, sa)
            with np.errstate(divide="ignore", invalid="ignore"):
                allowed = np.where(pa > 0, 2.0 * n_amb / np.maximum(pa, 1), 0.0)
            m = ~np.isnan(sa)
            bad = np.abs(sb[m] - sa[m]) > allowed[m] + 1e-12
            check(not bad.any(), f"{w}/sign: max abs difference {ds:.3g} (allowed only where K~0; "
                                 f"{n_amb} ambiguous entries)")
            for key in ("within_cosine", "between_cosine"):
                x, y = float(ca.attrs[key]), float(cb.attrs[key])
                check((np.isnan(x) and np.isnan(y)) or abs(x - y) <= cos_tol,
                      f"{w}: {key} {y!r} vs reference {x!r}")
            for key in ("within_sign", "between_sign"):
                x, y = float(ca.attrs[key]), float(cb.attrs[key])
                min_pairs = max(int(np.min(pa[pa > 0])) if (pa > 0).any() else 1, 1)
                check((np.isnan(x) and np.isnan(y)) or abs(x - y) <= 2.0 * n_amb / min_pairs + 1e-12,
                      f"{w}: {key} {y!r} vs reference {x!r}")
        if "params" in a:
            check("params" in b and sorted(a["params"]) == sorted(b["params"]),
                  f"{where}: parameter names differ")
            for p in a["params"]:
                if p in b["params"]:
                    dp = rel_diff(b["params"][p][()], a["params"][p][()])
                    check(dp <= tol, f"{where}: params/{p} relative difference {dp:.3g} > {tol}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--cos-tol", type=float, default=None,
                    help="absolute tolerance on cosines (default: 10 * tol)")
    ap.add_argument("--same-ranks", action="store_true",
                    help="the files share a rank count (e.g. differ in --panel-mb only)")
    ap.add_argument("ref")
    ap.add_argument("others", nargs="+")
    a = ap.parse_args()
    cos_tol = a.cos_tol if a.cos_tol is not None else 10 * a.tol

    def split(spec):
        path, _, p = spec.rpartition(":")
        return path, int(p)

    ref_path, ref_p = split(a.ref)
    with h5py.File(ref_path, "r") as ref:
        check(int(ref.attrs["ranks"]) == ref_p, f"{ref_path}: ranks = {ref.attrs['ranks']}, expected {ref_p}")
        check(int(ref.attrs["complete"]) == 1, f"{ref_path}: complete != 1")
        for spec in a.others:
            path, p = split(spec)
            with h5py.File(path, "r") as oth:
                check(int(oth.attrs["ranks"]) == p, f"{path}: ranks = {oth.attrs['ranks']}, expected {p}")
                check(a.same_ranks or p != ref_p, f"{path}: compared with a file of the same rank count {p}")
                w = compare(ref, oth, f"{path} ({p} ranks)", a.tol, cos_tol)
                print(f"{path}: {p} ranks vs {ref_p}: K relative max difference {w:.3g} (tol {a.tol})")
    if errors:
        for e in errors:
            print("FAIL:", e, file=sys.stderr)
        sys.exit(1)
    print("all files agree")


if __name__ == "__main__":
    main()
