#!/usr/bin/env python3
"""Checks that two stiffness output files are the same run, bit for bit,
apart from timings.

usage: same_run.py [--builds] A.h5 B.h5

Every attribute, group and dataset must be equal (floats exactly, NaN in the
same places), except the attributes `created` (start time), `seconds`
(wall time of each measurement), the rates `write_gbps` and `gram_gflops` and the
memory high-water marks `peak_rss_mb`
`device_memory_mb`. With --builds (two builds of stiffness compared,
scripts/compare-builds.sh) also the attributes that name the build and the
host: `stiffness_version`, `git_hash`, `hostname`. Prints one line; exits 1
listing the first differences.
"""
import sys

import h5py
import numpy as np

# Timings and memory high-water marks describe the process, not the result.
IGNORED_ATTRS = {"created", "seconds", "peak_rss_mb", "device_memory_mb", "write_gbps", "gram_gflops"}
args = sys.argv[1:]
if args and args[0] == "--builds":
    args = args[1:]
    IGNORED_ATTRS |= {"stiffness_version", "git_hash", "hostname"}
if len(args) != 2:
    sys.exit("usage: same_run.py [--builds] A.h5 B.h5")
diffs = []


def same(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.dtype.kind == "f":
        return np.array_equal(x, y, equal_nan=True)
    return np.array_equal(x, y)


def compare(ga, gb, path):
    for k in sorted(set(ga.attrs) | set(gb.attrs)):
        if k in IGNORED_ATTRS:
            continue
        if k not in ga.attrs or k not in gb.attrs:
            diffs.append(f"{path}@{k}: only in one file")
        elif not same(ga.attrs[k], gb.attrs[k]):
            diffs.append(f"{path}@{k}: {ga.attrs[k]!r} != {gb.attrs[k]!r}")
    if isinstance(ga, h5py.Dataset):
        if not same(ga[()], gb[()]):
            diffs.append(f"{path}: data differ")
        return
    for k in sorted(set(ga) | set(gb)):
        if k not in ga or k not in gb:
            diffs.append(f"{path}/{k}: only in one file")
        else:
            compare(ga[k], gb[k], f"{path}/{k}")


with h5py.File(args[0], "r") as a, h5py.File(args[1], "r") as b:
    compare(a, b, "")
    n = len(a["measurements"])
for d in diffs[:20]:
    print("differs:", d, file=sys.stderr)
if not diffs:
    print(f"same run ({n} measurements; ignoring {sorted(IGNORED_ATTRS)})")
sys.exit(1 if diffs else 0)
