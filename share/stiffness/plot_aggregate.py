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
import os
import sys
from collections import defaultdict

# The helpers and the distance figures live beside this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_common import (FASHION_MNIST, PAIR_SET_TITLES, Line2D, Names, cfg, die, h5py,  # noqa: E402
                         last_measurement, lr_colors, lr_text, matplotlib, np, pair_title, plt,
                         read_rows, run_label, save, to_float)
from plot_distance import stiffness_vs_distance, xi_vs_lr  # noqa: E402

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
