"""Figures of stiffness against input distance and of the critical lengths,
for `stiffness aggregate` (called from plot_aggregate.py)."""
import math
import os
from collections import defaultdict

from plot_common import (Line2D, PAIR_SET_TITLES, cfg, h5py, lr_colors, lr_text, np, pair_title, plt,
                         run_label, save, to_float)

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


MAX_CURVES = 10


def stiffness_vs_distance(run_files, rows_by_run, out_dir, fmt, written, names):
    """Per run: within-class stiffness against distance, a line per measurement."""
    last_curves = {}
    for path in run_files:
        curves = read_distance(path)
        if not curves:
            continue
        last_curves[path] = curves[-1]
        # At most MAX_CURVES lines (evenly spaced, first and last kept): a
        # long run measured at every epoch would otherwise bury the plot
        # under its legend.
        total = len(curves)
        if total > MAX_CURVES:
            keep = sorted({round(i * (total - 1) / (MAX_CURVES - 1)) for i in range(MAX_CURVES)})
            curves = [curves[i] for i in keep]
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
        shown = "" if len(curves) == total else f" ({len(curves)} of {total} measurements)"
        fig.suptitle(f"Within-class stiffness against input distance during training{shown}\n{label}")
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
