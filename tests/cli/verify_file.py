#!/usr/bin/env python3
"""Independent check that a stiffness output file (mlp model) is
self-sufficient and consistent.

usage: verify_file.py FILE.h5 --ranks P [--tol T] [--pairs all|N] [--seed S]

From /sample/inputs, /sample/label and measurements/*/params/* ONLY, the
per-example gradients of the cross-entropy loss (natural-log softmax, one
example, no averaging) of the MLP fc1..fcL (weight out x in, bias out, ReLU
between layers, input flattened) are recomputed with numpy backprop in
float64, and K_ij = g_i . g_j is compared with the stored K:
    |K_ij - R_ij| <= T * sqrt(R_ii R_jj)
for all pairs (or N random pairs). T defaults to 1e-4 for float32
parameters, 1e-9 for float64. Also checked:
  * K symmetric, diagonal > 0, finite;
  * class stiffness (cosine = K_ij / sqrt(K_ii K_jj), sign; ordered pairs
    i != j; sets train_train, train_val (i train, j val), val_val), pair
    counts, and within/between means (mean of the diagonal / off-diagonal of
    C, NaN entries left out) recomputed from the stored K, to 1e-9 (1e-6 when K is stored in float32);
  * attributes: complete == 1, num_measurements == number of groups, ranks
    == P, n_examples == N; /steps equals the groups' step attributes in
    order, steps increase, measurement 0 has step 0.
Exits 1 listing every failed check.
"""
import argparse
import re
import sys

import h5py
import numpy as np

errors = []


def check(ok, msg):
    if not ok:
        errors.append(msg)
    return ok


def mlp_layers(params):
    """[(W, b), ...] for fc1..fcL, as float64, checking names and shapes."""
    names = sorted(params)
    idx = sorted({int(m.group(1)) for n in names if (m := re.fullmatch(r"fc(\d+)\.(weight|bias)", n))})
    check(len(idx) > 0 and idx == list(range(1, len(idx) + 1)),
          f"params {names}: expected fc1..fcL weight/bias")
    check(set(names) == {f"fc{i}.{k}" for i in idx for k in ("weight", "bias")},
          f"params {names}: expected exactly fc1..fcL weight and bias")
    layers = []
    for i in idx:
        W = np.asarray(params[f"fc{i}.weight"][()], dtype=np.float64)
        b = np.asarray(params[f"fc{i}.bias"][()], dtype=np.float64)
        check(W.ndim == 2 and b.shape == (W.shape[0],), f"fc{i}: weight {W.shape}, bias {b.shape}")
        if layers:
            check(W.shape[1] == layers[-1][0].shape[0], f"fc{i}: input size {W.shape[1]} != previous output")
        layers.append((W, b))
    return layers


def per_example_grads(layers, x, y):
    """N x P matrix of flattened per-example gradients (all layers, weight
    then bias), by explicit forward and backward passes."""
    n = x.shape[0]
    h = [x.reshape(n, -1)]
    zs = []
    for li, (W, b) in enumerate(layers):
        z = h[-1] @ W.T + b
        zs.append(z)
        h.append(np.maximum(z, 0.0) if li + 1 < len(layers) else z)
    logits = h[-1]
    m = logits.max(axis=1, keepdims=True)
    p = np.exp(logits - m)
    p /= p.sum(axis=1, keepdims=True)
    delta = p.copy()
    delta[np.arange(n), y] -= 1.0  # d(-log softmax_y)/d logits
    grads = [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        W, _ = layers[li]
        gW = delta[:, :, None] * h[li][:, None, :]  # n x out x in
        grads[li] = np.concatenate([gW.reshape(n, -1), delta], axis=1)
        if li > 0:
            delta = (delta @ W) * (zs[li - 1] > 0)
    return np.concatenate(grads, axis=1)


def class_stiffness(K, label, split, classes):
    """{set: (cosine C, sign C, pairs)} from K, ordered pairs i != j."""
    d = np.sqrt(np.outer(np.diag(K), np.diag(K)))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(d > 0, K / d, 0.0)
    sgn = np.sign(K)
    n = K.shape[0]
    offdiag = ~np.eye(n, dtype=bool)
    tr, va = split == 0, split == 1
    sets = {"train_train": (tr, tr), "train_val": (tr, va), "val_val": (va, va)}
    out = {}
    for name, (rows, cols) in sets.items():
        C = np.full((classes, classes), np.nan)
        S = np.full((classes, classes), np.nan)
        P = np.zeros((classes, classes), dtype=np.int64)
        for a in range(classes):
            for b in range(classes):
                m = offdiag & np.outer(rows & (label == a), cols & (label == b))
                P[a, b] = m.sum()
                if P[a, b]:
                    C[a, b] = cos[m].mean()
                    S[a, b] = sgn[m].mean()
        out[name] = (C, S, P)
    return out


def within_between(C):
    diag = np.diag(C)
    off = C[~np.eye(C.shape[0], dtype=bool)]
    mean = lambda v: float(np.mean(v[~np.isnan(v)])) if (~np.isnan(v)).any() else float("nan")
    return mean(diag), mean(off)


def close(a, b, tol):
    if np.isnan(a) or np.isnan(b):
        return np.isnan(a) and np.isnan(b)
    return abs(a - b) <= tol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--tol", type=float, default=None)
    ap.add_argument("--pairs", default="all", help="'all' or a number of random pairs")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    f = h5py.File(a.file, "r")
    check(int(f.attrs.get("complete", -1)) == 1, f"complete = {f.attrs.get('complete')}, expected 1")
    check(int(f.attrs.get("ranks", -1)) == a.ranks, f"ranks = {f.attrs.get('ranks')}, expected {a.ranks}")
    x = f["sample/inputs"][()].astype(np.float64)
    label = f["sample/label"][()].astype(np.int64)
    split = f["sample/split"][()].astype(np.int64)
    N = x.shape[0]
    classes = int(f.attrs["num_classes"])
    check(int(f.attrs["n_examples"]) == N, f"n_examples = {f.attrs['n_examples']}, sample has {N}")
    check(label.shape == (N,) and split.shape == (N,), "sample label/split sizes differ from inputs")
    check(set(np.unique(split)) <= {0, 1}, f"split codes {np.unique(split)}")
    check(label.min() >= 0 and label.max() < classes, "sample labels out of range")

    groups = sorted(f["measurements"])
    check(int(f.attrs["num_measurements"]) == len(groups),
          f"num_measurements = {f.attrs['num_measurements']}, file has {len(groups)} groups")
    check(groups == [f"{i:06d}" for i in range(len(groups))], f"measurement group names {groups}")
    steps = f["steps"][()]
    gsteps = np.array([int(f["measurements"][g].attrs["step"]) for g in groups])
    check(np.array_equal(steps, gsteps), f"/steps {steps} != measurement step attributes {gsteps}")
    check(len(gsteps) > 0 and gsteps[0] == 0, f"measurement 0 has step {gsteps[:1]}, expected 0")
    check(np.all(np.diff(gsteps) > 0), f"measurement steps not increasing: {gsteps}")

    rng = np.random.default_rng(a.seed)
    worst = 0.0
    for g in groups:
        m = f["measurements"][g]
        where = f"measurement {g} (step {m.attrs['step']})"
        K = m["K"][()]
        # Class stiffness is summed from float64 K in the job: K stored in
        # float32 (--k-dtype) recomputes it to float32's rounding only.
        class_tol = 1e-9 if K.dtype == np.float64 else 1e-6
        K = K.astype(np.float64)
        if not check(K.shape == (N, N), f"{where}: K shape {K.shape}, expected {(N, N)}"):
            continue
        check(np.all(np.isfinite(K)), f"{where}: K not finite")
        asym = np.max(np.abs(K - K.T)) / np.max(np.abs(K))
        check(asym <= 1e-12, f"{where}: K not symmetric (relative {asym:.3g})")
        check(np.all(np.diag(K) > 0), f"{where}: K has diagonal entries <= 0")

        if not check("params" in m, f"{where}: no params group; K cannot be recomputed"):
            continue
        params = {k: m["params"][k] for k in m["params"]}
        p_dtype = next(iter(params.values())).dtype
        tol = a.tol if a.tol is not None else (1e-9 if p_dtype == np.float64 else 1e-4)
        n_err = len(errors)
        layers = mlp_layers(params)
        if len(errors) > n_err:
            continue
        check(layers[0][0].shape[1] == x[0].size, f"{where}: fc1 takes {layers[0][0].shape[1]} inputs")
        check(layers[-1][0].shape[0] == classes, f"{where}: last layer has {layers[-1][0].shape[0]} outputs")
        G = per_example_grads(layers, x, label)
        check(G.shape[1] == int(f.attrs["num_params"]),
              f"{where}: {G.shape[1]} gradient entries, num_params = {f.attrs['num_params']}")
        R = G @ G.T
        if a.pairs == "all":
            ii, jj = np.triu_indices(N)
        else:
            k = int(a.pairs)
            ii, jj = rng.integers(0, N, size=k), rng.integers(0, N, size=k)
        scale = np.sqrt(np.diag(R)[ii] * np.diag(R)[jj])
        err = np.abs(K[ii, jj] - R[ii, jj]) / scale
        worst = max(worst, float(err.max()))
        bad = np.flatnonzero(err > tol)
        check(bad.size == 0, f"{where}: {bad.size} of {len(ii)} entries of K differ from the recomputed "
                             f"value by more than {tol} (worst {err.max():.3g} at "
                             f"({ii[err.argmax()]}, {jj[err.argmax()]}): stored {K[ii[err.argmax()], jj[err.argmax()]]!r}, "
                             f"recomputed {R[ii[err.argmax()], jj[err.argmax()]]!r})")

        want = class_stiffness(K, label, split, classes)
        for s, (C, S, P) in want.items():
            cg = m["class_stiffness"][s]
            w = f"{where}: class_stiffness/{s}"
            check(np.array_equal(cg["pairs"][()], P), f"{w}/pairs differ from the recount")
            for key, ref in (("cosine", C), ("sign", S)):
                got = cg[key][()]
                same_nan = np.array_equal(np.isnan(got), np.isnan(ref))
                check(same_nan, f"{w}/{key}: NaN entries differ")
                if same_nan:
                    mk = ~np.isnan(ref)
                    d = float(np.max(np.abs(got[mk] - ref[mk]))) if mk.any() else 0.0
                    check(d <= class_tol, f"{w}/{key}: max abs difference {d:.3g} from the recomputation")
            for key, C_ in (("cosine", C), ("sign", S)):
                wi, be = within_between(C_)
                for attr, ref in ((f"within_{key}", wi), (f"between_{key}", be)):
                    got = float(cg.attrs[attr])
                    check(close(got, ref, class_tol), f"{w}: {attr} = {got!r}, recomputed {ref!r}")
    f.close()
    print(f"{a.file}: {len(groups)} measurements, N = {N}; worst |K - recomputed| / sqrt(Kii Kjj) = {worst:.3g}")
    if errors:
        for e in errors:
            print("FAIL:", e, file=sys.stderr)
        sys.exit(1)
    print("file verified")


if __name__ == "__main__":
    main()
