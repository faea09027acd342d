#!/usr/bin/env python3
"""Checks a large stored K without forming all per-example gradients: the
diagonal at `--diag` random examples and `--rows` random rows at `--cols`
random columns, against explicit per-example gradients of the stored MLP
(numpy backprop in float64, tests/cli/verify_file.py). Prints one JSON
object: the worst |K_ij - R_ij| / sqrt(R_ii R_jj) and what was checked.

usage: check_big_k.py FILE.h5 [--diag 1000] [--rows 3] [--cols 200] [--seed 1]
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cli"))
from verify_file import mlp_layers, per_example_grads  # noqa: E402


def grads(layers, x, y, idx, chunk=100):
    """Per-example gradient rows of examples `idx`, in chunks (memory)."""
    out = []
    for s in range(0, len(idx), chunk):
        part = idx[s:s + chunk]
        out.append(per_example_grads(layers, x[part].astype(np.float64), y[part]))
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--diag", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=3)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    with h5py.File(a.file, "r") as f:
        groups = sorted(f["measurements"])
        m = next(f["measurements"][g] for g in reversed(groups) if int(f["measurements"][g].attrs["K_stored"]))
        K = m["K"]
        n = K.shape[0]
        x = f["sample"]["inputs"][()]
        y = f["sample"]["label"][()]
        layers = mlp_layers({k: m["params"][k] for k in m["params"]})
        d_idx = np.sort(rng.choice(n, size=min(a.diag, n), replace=False))
        r_idx = np.sort(rng.choice(n, size=min(a.rows, n), replace=False))
        c_idx = np.sort(rng.choice(n, size=min(a.cols, n), replace=False))
        # The diagonal: |g_i|^2 from explicit gradients, chunk by chunk.
        dn = np.concatenate([np.einsum("ij,ij->i", g, g) for g in
                             (grads(layers, x, y, d_idx[s:s + 100]) for s in range(0, len(d_idx), 100))])
        kd = np.array([K[i, i] for i in d_idx], dtype=np.float64)
        worst_diag = float(np.max(np.abs(kd - dn) / dn))
        # Rows against random columns: g_i . g_j.
        gr, gc = grads(layers, x, y, r_idx), grads(layers, x, y, c_idx)
        R = gr @ gc.T
        scale = np.sqrt(np.outer(np.einsum("ij,ij->i", gr, gr), np.einsum("ij,ij->i", gc, gc)))
        kr = np.asarray(K[r_idx, :], dtype=np.float64)[:, c_idx]
        worst_rows = float(np.max(np.abs(kr - R) / scale))
        # Symmetry of the stored matrix on the same entries (mirrored panels).
        kc = np.asarray(K[:, r_idx], dtype=np.float64)[c_idx, :].T
        asym = float(np.max(np.abs(kr - kc) / scale))
        dtype = str(K.dtype)
    print(json.dumps({"file": a.file, "N": n, "dtype": dtype, "diag_checked": len(d_idx),
                      "rows_checked": len(r_idx), "cols_checked": len(c_idx),
                      "diag_max_rel_err": worst_diag, "rows_max_rel_err": worst_rows,
                      "asymmetry": asym}))


if __name__ == "__main__":
    main()
