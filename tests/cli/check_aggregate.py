#!/usr/bin/python3
"""Checks the output of `stiffness aggregate` against the run files.

usage: check_aggregate.py OUT_DIR RUN.h5... [--format png] [--no-figures]

- runs.csv has exactly the runs given (column `run`), and for each run one
  row per measurement x pair set, in file order;
- every value equals the file's: config keys (from the root `config`
  attribute), ranks, step, epoch, losses, accuracies, within/between cosine
  and sign stiffness, xi (attribute xi_linear, empty when absent; inside the
  stored fit range), xi_status and half_length (empty in older files) -- numbers
  exactly, since the CSV holds them in shortest round-trip form;
- runs.txt lists the runs; the figures exist and are not empty: a heatmap per
  run, stiffness against step per pair set, stiffness against distance per run
  and by learning rate (when the files have distance bins), xi against
  learning rate (when they have xi).
Prints one line per problem and exits 1 if there was any.
"""
import argparse
import csv
import math
import os
import sys

import h5py

FIXED = ["ranks", "step", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
         "pair_set", "within_cosine", "between_cosine", "within_sign", "between_sign", "xi",
         "xi_status", "half_length"]
PAIR_SETS = ["train_train", "train_val", "val_val"]

problems = []


def bad(msg):
    problems.append(msg)
    print(f"check_aggregate: {msg}", file=sys.stderr)


def parse_ini(text):
    kv = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        kv[k.strip()] = v.strip()
    return kv


def same_number(text, value):
    if isinstance(value, float) and math.isnan(value):
        return text == "nan"
    try:
        return float(text) == float(value)
    except ValueError:
        return False


def expected_rows(path):
    """[(config, ranks, measurement attrs, pair set, pair-set attrs)] of a file."""
    out = []
    with h5py.File(path, "r") as f:
        if int(f.attrs["complete"]) != 1:
            bad(f"{path}: not complete, should not be in the CSV")
        config = parse_ini(str(f.attrs["config"]))
        ranks = int(f.attrs["ranks"])
        has_distance = has_xi = False
        for name in sorted(f["measurements"]):
            m = f["measurements"][name]
            has_distance |= "distance" in m
            for ps in PAIR_SETS:
                g = m["class_stiffness"][ps]
                xi = float(g.attrs["xi_linear"]) if "xi_linear" in g.attrs else None
                has_xi |= xi is not None
                out.append((config, ranks, dict(m.attrs), ps, dict(g.attrs), xi))
    return out, has_distance, has_xi


def m_dist_range(path, step, ps):
    """The stored fit range of a measurement's pair set, or None (older files)."""
    with h5py.File(path, "r") as f:
        for name in f["measurements"]:
            m = f["measurements"][name]
            if int(m.attrs["step"]) == int(step) and "distance" in m:
                a = m["distance"][ps].attrs
                if "fit_min_distance" in a:
                    return float(a["fit_min_distance"]), float(a["fit_max_distance"])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--format", default="png")
    ap.add_argument("--no-figures", action="store_true")
    a = ap.parse_args()

    csv_path = os.path.join(a.out, "runs.csv")
    if not os.path.isfile(csv_path):
        bad(f"{csv_path} is missing")
        return 1
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, r)) for r in reader]
    if header[0] != "run" or header[-len(FIXED):] != FIXED:
        bad(f"unexpected columns: {header}")
    config_cols = header[1:-len(FIXED)]
    if config_cols != sorted(config_cols):
        bad(f"config columns are not sorted: {config_cols}")

    by_run = {}
    for r in rows:
        by_run.setdefault(r["run"], []).append(r)
    want = {os.path.normpath(p) for p in a.runs}
    got = {os.path.normpath(p) for p in by_run}
    if want != got:
        bad(f"runs in the CSV {sorted(got)} differ from the expected {sorted(want)}")

    any_distance = any_xi = False
    checked = 0
    for path in a.runs:
        csv_rows = by_run.get(path) or by_run.get(os.path.normpath(path)) or []
        exp, has_distance, has_xi = expected_rows(path)
        any_distance |= has_distance
        any_xi |= has_xi
        if len(csv_rows) != len(exp):
            bad(f"{path}: {len(csv_rows)} CSV rows, expected {len(exp)} (measurements x pair sets)")
            continue
        for r, (config, ranks, mattrs, ps, gattrs, xi) in zip(csv_rows, exp):
            where = f"{path} step {mattrs['step']} {ps}"
            for k in config_cols:
                want_v = config.get(k[len("config:"):] if k.startswith("config:") else k, "")
                if r[k] != want_v:
                    bad(f"{where}: column {k} = {r[k]!r}, file config has {want_v!r}")
            if r["ranks"] != str(ranks):
                bad(f"{where}: ranks {r['ranks']} != {ranks}")
            if r["pair_set"] != ps:
                bad(f"{where}: pair_set {r['pair_set']} != {ps}")
            for k in ("step", "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"):
                if not same_number(r[k], mattrs[k]):
                    bad(f"{where}: {k} = {r[k]}, file has {mattrs[k]!r}")
            for k in ("within_cosine", "between_cosine", "within_sign", "between_sign"):
                if not same_number(r[k], gattrs[k]):
                    bad(f"{where}: {k} = {r[k]}, file has {gattrs[k]!r}")
            if xi is None and r["xi"] != "":
                bad(f"{where}: xi = {r['xi']!r}, the file has no xi_linear")
            if xi is not None and not same_number(r["xi"], xi):
                bad(f"{where}: xi = {r['xi']!r}, file has {xi!r}")
            # Format 2 on: why xi is NaN, and the half-stiffness length (empty before).
            status = gattrs.get("xi_linear_status", "")
            status = status.decode() if isinstance(status, bytes) else str(status)
            if r["xi_status"] != status:
                bad(f"{where}: xi_status = {r['xi_status']!r}, file has {status!r}")
            half = gattrs.get("half_length")
            if (half is None and r["half_length"] != "") or (
                    half is not None and not same_number(r["half_length"], float(half))):
                bad(f"{where}: half_length = {r['half_length']!r}, file has {half!r}")
            if xi is not None and not math.isnan(xi):
                lo = m_dist_range(path, mattrs["step"], ps)
                if lo is not None and not (lo[0] <= xi <= lo[1]):
                    bad(f"{where}: xi = {xi} outside the observed range {lo}")
            checked += 1

    listed = [l.strip() for l in open(os.path.join(a.out, "runs.txt")) if l.strip()]
    if {os.path.normpath(p) for p in listed} != want:
        bad(f"runs.txt lists {listed}")

    figures = 0
    if not a.no_figures:
        names = [f"stiffness-vs-step-{ps}" for ps in PAIR_SETS]
        stems = [os.path.basename(p)[:-3] for p in a.runs]
        names += [f"heatmap-{s}" for s in stems]
        if any_distance:
            names += [f"stiffness-vs-distance-{s}" for s in stems] + ["stiffness-vs-distance-by-lr"]
        if any_xi:
            names.append("xi-vs-lr")
        for n in names:
            p = os.path.join(a.out, f"{n}.{a.format}")
            if not os.path.isfile(p) or os.path.getsize(p) < 1000:
                bad(f"figure {p} is missing or nearly empty")
            else:
                figures += 1
    if not problems:
        print(f"check_aggregate: {len(a.runs)} runs, {checked} CSV rows agree with the files; "
              f"{figures} figures present")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
