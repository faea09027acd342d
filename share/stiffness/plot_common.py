"""Shared pieces of the `stiffness aggregate` figures (plot_aggregate.py,
plot_distance.py): imports with a one-line error when a module is missing,
the CSV reader, labels, colours, saving."""
import argparse
import csv
import math
import os
import sys
import warnings


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



def lr_colors(lrs):
    cmap = plt.get_cmap("viridis")
    k = max(1, len(lrs) - 1)
    return {lr: cmap(0.85 * i / k) for i, lr in enumerate(lrs)}
