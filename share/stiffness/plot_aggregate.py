#!/usr/bin/python3
"""Figures for `stiffness aggregate` (run by it; Debian's /usr/bin/python3).

usage: plot_aggregate.py --csv RUNS.csv --runs RUNS.txt --out DIR [--format png|svg]

RUNS.csv is the tidy table written by `stiffness aggregate` (one row per run x
measurement x pair set); RUNS.txt lists the run files, one per line, for the
figures that need more than the CSV holds (class matrices, distance bins).

Figures written to DIR (each readable on its own: title, axes, legend):
  heatmap-<run>.<fmt>              class cosine stiffness, train-train pairs,
                                   last measurement, one per run
  stiffness-vs-step-<pairs>.<fmt>  within/between cosine and sign stiffness
                                   against step, a line per learning rate, a
                                   column per model (seeds averaged); a dotted
                                   line at the lowest validation loss (the onset
                                   of overfitting) when it precedes the end
  stiffness-vs-train-loss-<pairs>.<fmt> the same against the training loss
  stiffness-vs-distance-<run>.<fmt> within-class stiffness against input distance,
                                   a line per measurement, xi (where reported)
                                   and the half-stiffness length marked (only
                                   when the files have distance/ bins)
  stiffness-vs-distance-by-lr.<fmt> the same at the last measurement, a line per
                                   learning rate, a panel per model
  xi-vs-lr.<fmt>                   critical lengths against learning rate, a
                                   line per model: xi where reported, and the
                                   half-stiffness length (only when files have them)
Distance axes span the observed within-class distances (within [0, 2]); an xi
outside them is not a crossing of the data and is not drawn.

Exit status: 0 when done, 3 after a one-line error about a missing module,
1 on any other error.
"""
import argparse
import csv
import math
import os
import sys
import warnings
from collections import defaultdict


def die(msg, code=1):
    print(f"stiffness: error: {msg}", file=sys.stderr)
    sys.exit(code)


try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.lines import Line2D
except ImportError as e:
    die(f"the figures need matplotlib for {sys.executable} ({e}); on Debian: "
        "apt-get install python3-matplotlib, or pass --no-figures", 3)
# An empty distance bin is NaN; a mean over only NaNs is NaN too, said quietly.
warnings.filterwarnings("ignore", message="Mean of empty slice")

try:
    import h5py
except ImportError as e:
    die(f"the figures need h5py for {sys.executable} ({e}); on Debian: "
        "apt-get install python3-h5py, or pass --no-figures", 3)

PAIR_SET_TITLES = {
    "train_train": "train–train pairs",
    "train_val": "train–validation pairs",
    "val_val": "validation–validation pairs",
}
FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
NUMERIC = ["ranks", "step", "epoch", "train_loss", "train_accuracy", "val_loss",
           "val_accuracy", "within_cosine", "between_cosine", "within_sign",
           "between_sign", "xi", "half_length"]


def to_float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["has_xi"] = r.get("xi", "") != ""  # the file has xi (maybe nan)
        for k in NUMERIC:
            r[k] = to_float(r.get(k, ""))
    return rows


def cfg(row_or_attrs, key, default="?"):
    v = row_or_attrs.get(key, "")
    return v if v not in ("", None) else default


def lr_text(lr):
    v = to_float(lr)
    return f"{v:g}" if not math.isnan(v) else str(lr)


def run_label(r):
    """'mlp, lr 0.001, seed 0' from a CSV row (or a dict of config keys)."""
    return f"{cfg(r, 'model')}, lr {lr_text(cfg(r, 'lr'))}, seed {cfg(r, 'seed')}"


def pair_title(ps):
    return PAIR_SET_TITLES.get(ps, ps.replace("_", "–") + " pairs")


class Names:
    """Unique file-name stems for runs (the file's base name, then -2, -3...)."""

    def __init__(self):
        self.used = set()

    def stem(self, path):
        base = os.path.basename(path)
        base = base[:-3] if base.endswith(".h5") else base
        base = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in base) or "run"
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}-{i}", i + 1
        self.used.add(name)
        return name


def save(fig, out_dir, name, fmt, written):
    path = os.path.join(out_dir, f"{name}.{fmt}")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)


def last_measurement(f):
    if "measurements" not in f or len(f["measurements"]) == 0:
        return None
    return f["measurements"][sorted(f["measurements"].keys())[-1]]


# ------------------------------------------------------------------ heatmaps

def heatmaps(run_files, rows_by_run, out_dir, fmt, written, names):
    for path in run_files:
        with h5py.File(path, "r") as f:
            m = last_measurement(f)
            if m is None or "class_stiffness/train_train/cosine" not in m:
                continue
            g = m["class_stiffness/train_train"]
            c = np.asarray(g["cosine"][()], dtype=float)
            step, epoch = int(m.attrs["step"]), float(m.attrs["epoch"])
            within, between = float(g.attrs["within_cosine"]), float(g.attrs["between_cosine"])
            dataset = str(f.attrs.get("dataset", ""))
        rows = rows_by_run.get(path, [])
        label = run_label(rows[0]) if rows else os.path.basename(path)
        n = c.shape[0]
        ticks = FASHION_MNIST if dataset == "fashion-mnist" and n == 10 else [str(i) for i in range(n)]
        lim = float(np.nanmax(np.abs(c))) if c.size and np.isfinite(c).any() else 1.0
        lim = lim if lim > 0 else 1.0
        fig, ax = plt.subplots(figsize=(6.4 + 0.25 * max(0, n - 10), 5.6))
        im = ax.imshow(c, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels(ticks, rotation=45 if len(max(ticks, key=len)) > 2 else 0, ha="right"
                           if len(max(ticks, key=len)) > 2 else "center")
        ax.set_yticklabels(ticks)
        ax.set_xlabel("class of the second example")
        ax.set_ylabel("class of the first example")
        if n <= 12:
            for i in range(n):
                for j in range(n):
                    v = c[i, j]
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(v) > 0.6 * lim else "black")
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label("mean cosine stiffness between the two classes")
        ax.set_title(f"Class cosine stiffness, train–train pairs\n{label}; step {step} "
                     f"(epoch {epoch:.2f})\nwithin-class {within:.3f}, between-class {between:.3f}",
                     fontsize=10)
        save(fig, out_dir, f"heatmap-{names.stem(path)}", fmt, written)


# ---------------------------------------------------------- stiffness vs step

def lr_colors(lrs):
    cmap = plt.get_cmap("viridis")
    k = max(1, len(lrs) - 1)
    return {lr: cmap(0.85 * i / k) for i, lr in enumerate(lrs)}


def overfitting_onset(rows):
    """{(model, lr): step} where the validation loss (mean over the runs of
    that model and lr) is lowest, when that is before the last measurement:
    the onset of overfitting. Absent while validation loss still falls."""
    vals = defaultdict(lambda: defaultdict(list))
    one_set = rows[0]["pair_set"] if rows else ""  # losses repeat in every pair set's row
    for r in rows:
        if r["pair_set"] == one_set:
            vals[(cfg(r, "model"), cfg(r, "lr"))][r["step"]].append(r["val_loss"])
    onset = {}
    for key, by_step in vals.items():
        steps = sorted(by_step)
        loss = [np.nanmean(by_step[s]) for s in steps]
        if len(steps) > 2 and np.isfinite(loss).any():
            k = int(np.nanargmin(loss))
            if k < len(steps) - 1:
                onset[key] = steps[k]
    return onset


def stiffness_vs_step(rows, out_dir, fmt, written, x_key="step"):
    """x_key "step": against training step; "train_loss": against the training
    loss (log scale, falling to the right), where runs at different learning
    rates can be compared at equal loss."""
    models = sorted({cfg(r, "model") for r in rows})
    lrs = sorted({cfg(r, "lr") for r in rows}, key=to_float)
    colors = lr_colors(lrs)
    onset = overfitting_onset(rows)
    for ps in sorted({r["pair_set"] for r in rows},
                     key=lambda s: (list(PAIR_SET_TITLES).index(s) if s in PAIR_SET_TITLES else 9, s)):
        sel = [r for r in rows if r["pair_set"] == ps]
        fig, axes = plt.subplots(2, len(models), figsize=(5.2 * len(models), 7.6),
                                 squeeze=False, sharex="col", sharey="row")
        seeds = defaultdict(set)
        for col, model in enumerate(models):
            for row, kind in enumerate(("cosine", "sign")):
                ax = axes[row][col]
                for lr in lrs:
                    # mean over seeds (and any other differing key) at each step
                    acc = defaultdict(lambda: [[], [], []])
                    for r in sel:
                        if cfg(r, "model") == model and cfg(r, "lr") == lr:
                            acc[r["step"]][0].append(r[f"within_{kind}"])
                            acc[r["step"]][1].append(r[f"between_{kind}"])
                            acc[r["step"]][2].append(r["train_loss"])
                            seeds[(model, lr)].add(r["run"])
                    if not acc:
                        continue
                    steps = sorted(acc)
                    xs = steps if x_key == "step" else [np.nanmean(acc[s][2]) for s in steps]
                    w = [np.nanmean(acc[s][0]) for s in steps]
                    b = [np.nanmean(acc[s][1]) for s in steps]
                    ax.plot(xs, w, "-o", color=colors[lr], ms=3.5, lw=1.6)
                    ax.plot(xs, b, "--s", color=colors[lr], ms=3, lw=1.2, alpha=0.85)
                    if (model, lr) in onset:
                        s0 = onset[(model, lr)]
                        ax.axvline(xs[steps.index(s0)], color=colors[lr], ls=":", lw=1.4)
                ax.axhline(0, color="0.5", lw=0.8, zorder=0)
                if x_key == "step":
                    ax.set_xscale("symlog", linthresh=1)
                else:
                    ax.set_xscale("log")
                    # ticks at 1, 2, 5 per decade, as plain numbers (a loss spans few decades)
                    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
                    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
                    if not ax.xaxis_inverted():
                        ax.invert_xaxis()
                ax.grid(True, alpha=0.3)
                ax.set_ylabel(f"{kind} stiffness")
                if row == 0:
                    ax.set_title(f"model: {model}")
                if row == 1:
                    ax.set_xlabel("training step (0 = initialisation; log scale)" if x_key == "step"
                                  else "training loss (log scale, falling to the right)")
        n_seeds = max((len(v) for v in seeds.values()), default=1)
        handles = [Line2D([], [], color=colors[lr], lw=2, label=f"lr {lr_text(lr)}") for lr in lrs]
        handles += [Line2D([], [], color="black", ls="-", marker="o", ms=3.5, label="within-class"),
                    Line2D([], [], color="black", ls="--", marker="s", ms=3, label="between-class")]
        if onset:
            handles.append(Line2D([], [], color="black", ls=":", lw=1.4,
                                  label="lowest validation loss\n(onset of overfitting)"))
        fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
                   title="learning rate / pairs", frameon=False)
        avg = f" (mean over {n_seeds} runs per line)" if n_seeds > 1 else ""
        against = "during training" if x_key == "step" else "against training loss"
        fig.suptitle(f"Within- and between-class stiffness {against}, {pair_title(ps)}{avg}")
        fig.tight_layout()
        name = "stiffness-vs-step" if x_key == "step" else "stiffness-vs-train-loss"
        save(fig, out_dir, f"{name}-{ps}", fmt, written)


# ------------------------------------------------------ stiffness vs distance
# Layout (docs/output-format.md): measurements/NNNNNN/distance/<pair set>/ with
# bin_edges (B+1), within_cosine, within_sign (B, NaN for an empty bin),
# within_pairs, and attributes xi_linear_cosine, xi_linear_sign (format 2 on:
# NaN unless inside fit_min_distance..fit_max_distance), half_length_cosine,
# half_length_sign, half_reference_cosine, half_reference_sign.

def observed_range(g, e):
    """The observed within-class distances: the stored fit range, or (older
    files) the occupied bins; the whole [0, 2] when nothing says."""
    if "fit_min_distance" in g.attrs:
        lo, hi = float(g.attrs["fit_min_distance"]), float(g.attrs["fit_max_distance"])
        if math.isfinite(lo) and math.isfinite(hi):
            return lo, hi
    if "within_pairs" in g:
        occ = np.nonzero(np.asarray(g["within_pairs"][()]) > 0)[0]
        if occ.size:
            return float(e[occ[0]]), float(e[occ[-1] + 1])
    return 0.0, 2.0


def in_range(v, rng):
    return v if math.isfinite(v) and rng[0] <= v <= rng[1] else math.nan


def read_distance(path):
    """[(step, {pair set: Curve})]; xi outside the observed range (older
    files extrapolated it) is NaN, i.e. absent."""
    curves = []
    with h5py.File(path, "r") as f:
        if "measurements" not in f:
            return curves
        for key in sorted(f["measurements"].keys()):
            m = f["measurements"][key]
            if "distance" not in m:
                continue
            sets = {}
            for ps, g in m["distance"].items():
                if not isinstance(g, h5py.Group) or "bin_edges" not in g or "within_cosine" not in g:
                    continue
                e = np.asarray(g["bin_edges"][()], dtype=float)
                x = 0.5 * (e[1:] + e[:-1])
                wc = np.asarray(g["within_cosine"][()], dtype=float)
                ws = np.asarray(g["within_sign"][()], dtype=float) if "within_sign" in g else None
                rng = observed_range(g, e)
                a = g.attrs
                sets[ps] = Curve(x, wc, ws, rng,
                                 in_range(float(a.get("xi_linear_cosine", math.nan)), rng),
                                 in_range(float(a.get("xi_linear_sign", math.nan)), rng),
                                 float(a.get("half_length_cosine", math.nan)),
                                 float(a.get("half_length_sign", math.nan)),
                                 float(a.get("half_reference_cosine", math.nan)),
                                 float(a.get("half_reference_sign", math.nan)),
                                 text(a.get("half_length_cosine_status", "")),
                                 text(a.get("half_length_sign_status", "")))
            if sets:
                curves.append((int(m.attrs["step"]), sets))
    return curves


class Curve:
    """One pair set's binned within-class curves and critical lengths."""

    def __init__(self, x, wc, ws, rng, xi_cos, xi_sign, half_cos, half_sign, ref_cos, ref_sign,
                 why_cos, why_sign):
        self.x, self.rng = x, rng
        self.y = {"cosine": wc, "sign": ws}
        self.xi = {"cosine": xi_cos, "sign": xi_sign}
        self.half = {"cosine": half_cos, "sign": half_sign}
        self.ref = {"cosine": ref_cos, "sign": ref_sign}
        # "crossed": the curve falls to half at this length; otherwise the
        # length is a bound at an end of the data (drawn hollow).
        self.crossed = {"cosine": why_cos in ("crossed", ""), "sign": why_sign in ("crossed", "")}


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def span(ranges):
    """Axis limits covering the observed ranges, clipped to [0, 2], with a margin."""
    lo = max(0.0, min(r[0] for r in ranges))
    hi = min(2.0, max(r[1] for r in ranges))
    pad = 0.02 * max(hi - lo, 0.05)
    return max(0.0, lo - pad), min(2.0, hi + pad)


def ordered_sets(names):
    return [s for s in PAIR_SET_TITLES if s in names] + sorted(set(names) - set(PAIR_SET_TITLES))


def stiffness_vs_distance(run_files, rows_by_run, out_dir, fmt, written, names):
    """Per run: within-class stiffness against distance, a line per measurement."""
    last_curves = {}
    for path in run_files:
        curves = read_distance(path)
        if not curves:
            continue
        last_curves[path] = curves[-1]
        rows = rows_by_run.get(path, [])
        label = run_label(rows[0]) if rows else os.path.basename(path)
        sets = ordered_sets({ps for _, s in curves for ps in s})
        fig, axes = plt.subplots(2, len(sets), figsize=(4.8 * len(sets), 7.2), squeeze=False,
                                 sharex=True, sharey="row")
        cmap = plt.get_cmap("plasma")
        k = max(1, len(curves) - 1)
        xlim = span([c.rng for _, s in curves for c in s.values()])
        for col, ps in enumerate(sets):
            for row, kind in enumerate(("cosine", "sign")):
                ax = axes[row][col]
                for j, (step, s) in enumerate(curves):
                    if ps not in s or s[ps].y[kind] is None:
                        continue
                    c = s[ps]
                    color = cmap(0.85 * j / k)
                    ax.plot(c.x, c.y[kind], "-o", ms=2.5, color=color, label=f"step {step}")
                    if math.isfinite(c.xi[kind]):
                        ax.plot([c.xi[kind]], [0], marker="|", ms=14, mew=2, color=color)
                    if math.isfinite(c.half[kind]) and math.isfinite(c.ref[kind]):
                        ax.plot([c.half[kind]], [0.5 * c.ref[kind]], marker="v", ms=7, mec=color,
                                mew=1.2, mfc=color if c.crossed[kind] else "none", ls="none")
                ax.axhline(0, color="0.5", lw=0.8, zorder=0)
                ax.set_xlim(*xlim)
                ax.grid(True, alpha=0.3)
                if row == 0:
                    ax.set_title(pair_title(ps), fontsize=10)
                if row == 1:
                    ax.set_xlabel("input distance 1 − cos(x₁, x₂)")
                if col == 0:
                    ax.set_ylabel(f"within-class {kind} stiffness")
        handles, labels = axes[0][0].get_legend_handles_labels()
        handles.append(Line2D([], [], color="black", ls="none", marker="|", ms=12, mew=2))
        labels.append("ξ (linear fit crosses 0\nwithin the data)")
        handles.append(Line2D([], [], mfc="black", mec="black", ls="none", marker="v", ms=7))
        labels.append("half-stiffness length\n(at half the short-\ndistance stiffness)")
        handles.append(Line2D([], [], mfc="none", mec="black", ls="none", marker="v", ms=7))
        labels.append("never halves: the\nlength is the data's end")
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                   title="measured at", frameon=False)
        fig.suptitle(f"Within-class stiffness against input distance during training\n{label}")
        fig.tight_layout()
        save(fig, out_dir, f"stiffness-vs-distance-{names.stem(path)}", fmt, written)
    if last_curves:
        distance_by_lr(last_curves, rows_by_run, out_dir, fmt, written)


def distance_by_lr(last_curves, rows_by_run, out_dir, fmt, written):
    """All runs: within-class cosine stiffness (train-train) against distance at
    the last measurement, a line per learning rate, a panel per model."""
    groups = defaultdict(list)  # (model, lr) -> [(x, y)]
    ranges = []
    for path, (step, sets) in last_curves.items():
        rows = rows_by_run.get(path, [])
        if not rows or "train_train" not in sets:
            continue
        c = sets["train_train"]
        groups[(cfg(rows[0], "model"), cfg(rows[0], "lr"))].append((c.x, c.y["cosine"]))
        ranges.append(c.rng)
    if not groups:
        return
    models = sorted({m for m, _ in groups})
    lrs = sorted({lr for _, lr in groups}, key=to_float)
    colors = lr_colors(lrs)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.4), squeeze=False,
                             sharey=True)
    for col, model in enumerate(models):
        ax = axes[0][col]
        for lr in lrs:
            curves = groups.get((model, lr))
            if not curves:
                continue
            x = curves[0][0]
            same = [y for xx, y in curves if len(xx) == len(x)]
            y = np.nanmean(np.vstack(same), axis=0) if same else curves[0][1]
            ax.plot(x, y, "-o", ms=3, color=colors[lr], label=f"lr {lr_text(lr)}")
        ax.axhline(0, color="0.5", lw=0.8, zorder=0)
        ax.set_xlim(*span(ranges))
        ax.grid(True, alpha=0.3)
        ax.set_title(f"model: {model}")
        ax.set_xlabel("input distance 1 − cos(x₁, x₂)")
        if col == 0:
            ax.set_ylabel("within-class cosine stiffness")
        ax.legend(title="learning rate")
    fig.suptitle("Within-class stiffness against input distance at the last measurement, "
                 "train–train pairs\n(mean over seeds)")
    fig.tight_layout()
    save(fig, out_dir, "stiffness-vs-distance-by-lr", fmt, written)


# -------------------------------------------------------------- xi vs lr

def xi_vs_lr(rows, out_dir, fmt, written):
    """Both critical lengths at each run's last measurement against the
    learning rate: xi where reported (inside the data), the half-stiffness
    length always. Drawn when the files have either."""
    has = [r for r in rows if r["has_xi"] or not math.isnan(r["half_length"])]
    if not has:
        return
    last = {}
    for r in has:  # last measurement of each run
        if r["run"] not in last or r["step"] > last[r["run"]]:
            last[r["run"]] = r["step"]
    final = [r for r in has if r["step"] == last[r["run"]]]
    sets = [s for s in PAIR_SET_TITLES if any(r["pair_set"] == s for r in final)]
    sets += sorted({r["pair_set"] for r in final} - set(sets))
    models = sorted({cfg(r, "model") for r in final})
    lengths = [("xi", "critical distance ξ (1 − cos)"), ("half_length", "half-stiffness length (1 − cos)")]
    fig, axes = plt.subplots(2, len(sets), figsize=(5.2 * len(sets), 8.0), squeeze=False, sharey="row",
                             sharex=True)
    markers = "osD^v<>"
    for row, (key, ylabel) in enumerate(lengths):
        for i, ps in enumerate(sets):
            ax = axes[row][i]
            drawn = 0
            for k, model in enumerate(models):
                by_lr = defaultdict(list)
                for r in final:
                    if r["pair_set"] == ps and cfg(r, "model") == model and not math.isnan(r[key]):
                        by_lr[to_float(cfg(r, "lr"))].append(r[key])
                if not by_lr:
                    continue
                lrs = sorted(by_lr)
                mean = np.array([np.mean(by_lr[lr]) for lr in lrs])
                lo = mean - np.array([np.min(by_lr[lr]) for lr in lrs])
                hi = np.array([np.max(by_lr[lr]) for lr in lrs]) - mean
                ax.errorbar(lrs, mean, yerr=[lo, hi], marker=markers[k % len(markers)], capsize=3,
                            label=model)
                drawn += 1
            if not drawn:
                why = sorted({r.get("xi_status", "") for r in final if r["pair_set"] == ps} - {""})
                ax.text(0.5, 0.5, "not reported" + (f":\n{', '.join(why)}" if why else ""),
                        transform=ax.transAxes, ha="center", va="center", color="0.4")
            else:
                ax.legend(title="model")
            ax.set_xscale("log")
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.set_title(pair_title(ps))
            if row == 1:
                ax.set_xlabel("learning rate (log scale)")
            if i == 0:
                ax.set_ylabel(ylabel)
    fig.suptitle("Critical lengths at the last measurement, against learning rate\n"
                 "(mean over seeds; bars: min to max; ξ only where the fit crosses 0 within the data)")
    fig.tight_layout()
    save(fig, out_dir, "xi-vs-lr", fmt, written)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--format", default="png", choices=["png", "svg"])
    a = ap.parse_args()
    rows = read_rows(a.csv)
    with open(a.runs) as f:
        run_files = [line.rstrip("\n") for line in f if line.strip()]
    rows_by_run = defaultdict(list)
    for r in rows:
        rows_by_run[r["run"]].append(r)
    os.makedirs(a.out, exist_ok=True)
    written = []
    heatmaps(run_files, rows_by_run, a.out, a.format, written, Names())
    if rows:
        stiffness_vs_step(rows, a.out, a.format, written)
        stiffness_vs_step(rows, a.out, a.format, written, x_key="train_loss")
    stiffness_vs_distance(run_files, rows_by_run, a.out, a.format, written, Names())
    xi_vs_lr(rows, a.out, a.format, written)
    for w in written:
        print(f"figure: {w}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, not a traceback
        die(f"plot_aggregate.py: {type(e).__name__}: {e}")
