#!/usr/bin/python3
"""index.html for `stiffness aggregate` (run by it after the figures).

usage: report_html.py --csv RUNS.csv --out DIR [--format png|svg] [--no-figures]

Writes DIR/index.html: ONE self-contained page (the figures embedded as data
URIs, no network, no scripts from elsewhere) with the run table (one row per
run: the options that differ between runs, the last measurement's loss,
accuracy, train-train stiffness and xi), every figure of this aggregation
with a caption, and links to runs.csv and runs.txt beside it. A small inline
script marks on <body> how many figures the browser decoded
(data-figures-loaded / data-figures-broken), for tests and for the reader.

Exit status 0 when written, 1 on an error (one line).
"""
import argparse
import base64
import csv
import html
import os
import sys
from collections import OrderedDict

# Options that never help tell runs apart in a table.
HIDDEN = {"output", "data-dir", "threads", "progress-seconds", "checkpoint-minutes"}

CAPTIONS = [  # (file name prefix, caption); the first match wins
    ("heatmap-", "Class cosine stiffness between every pair of classes (train-train pairs) at the "
                 "last measurement of run {rest}. Diagonal: within-class; off-diagonal: between-class."),
    ("stiffness-vs-step-", "Within- and between-class cosine and sign stiffness against the training "
                           "step, {rest} pairs: a line per learning rate, a column per model (seeds averaged)."),
    ("stiffness-vs-train-loss-", "Within- and between-class stiffness against the training loss, "
                                 "{rest} pairs: runs compared at equal training loss instead of equal "
                                 "epoch; the onset of overfitting (lowest validation loss) marked."),
    ("stiffness-vs-distance-by-lr", "Within-class stiffness against input distance at the last "
                                    "measurement: a line per learning rate, a panel per model."),
    ("stiffness-vs-distance-", "Within-class stiffness against input distance for run {rest}: a line "
                               "per measurement, the critical lengths marked where they lie in the data."),
    ("xi-vs-lr", "Critical lengths against the learning rate, a line per model: the paper's xi (the "
                 "distance at which the fitted within-class stiffness falls to zero; absent when that "
                 "lies outside the data) and the half-stiffness length (docs/metrics.md)."),
]


def caption(stem):
    for prefix, text in CAPTIONS:
        if stem.startswith(prefix):
            return text.format(rest=stem[len(prefix):] or "?")
    return stem


def num(text, digits=4):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return text or "-"
    return f"{v:.{digits}g}"


def run_table(rows):
    runs = OrderedDict()
    for r in rows:
        runs.setdefault(r["run"], []).append(r)
    # runs.csv: `run`, then the config keys, then the file's own columns from `ranks` on.
    header = list(rows[0].keys()) if rows else []
    end = header.index("ranks") if "ranks" in header else len(header)
    keys = [k for k in header[1:end] if k not in HIDDEN]
    varying = [k for k in keys if len({r.get(k, "") for r in rows}) > 1]
    shown = varying or [k for k in ("model", "lr", "seed") if k in keys]
    head = ["run"] + shown + ["ranks", "measurements", "last step", "train loss", "train acc",
                               "val loss", "val acc", "cos within", "cos between", "sign within",
                               "sign between", "xi", "half length"]
    body = []
    for run, rs in runs.items():
        steps = sorted({int(r["step"]) for r in rs})
        last = [r for r in rs if int(r["step"]) == steps[-1]]
        tt = next((r for r in last if r["pair_set"] == "train_train"), last[0])
        body.append([os.path.basename(run)] + [tt.get(k, "") for k in shown] + [
            tt["ranks"], str(len(steps)), str(steps[-1]), num(tt["train_loss"]),
            num(tt["train_accuracy"]), num(tt["val_loss"]), num(tt["val_accuracy"]),
            num(tt["within_cosine"]), num(tt["between_cosine"]), num(tt["within_sign"]),
            num(tt["between_sign"]), num(tt.get("xi", "")), num(tt.get("half_length", ""))])
    return head, body


def figures(out_dir, fmt, since):
    """This aggregation's figures: files of the format written after the CSV."""
    found = []
    for name in sorted(os.listdir(out_dir)):
        path = os.path.join(out_dir, name)
        if name.endswith("." + fmt) and os.path.isfile(path) and os.path.getmtime(path) >= since:
            found.append(path)
    # Overviews first, then one figure per run.
    order = ["stiffness-vs-step-", "stiffness-vs-train-loss-", "xi-vs-lr", "stiffness-vs-distance-by-lr", "stiffness-vs-distance-", "heatmap-"]
    return sorted(found, key=lambda p: (next((i for i, o in enumerate(order)
                                              if os.path.basename(p).startswith(o)), len(order)), p))


def page(head, body, figs, fmt, n_rows):
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>stiffness aggregate</title>",
           "<style>body{font-family:sans-serif;margin:1.5em;max-width:1400px}"
           "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;padding:3px 6px;"
           "text-align:right}td:first-child,th{text-align:left}th{background:#eee}"
           "figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #ddd}"
           "figcaption{font-size:14px;color:#333;max-width:900px}</style></head>",
           "<body>",
           "<h1>Stiffness: aggregate of {} run{}</h1>".format(len(body), "" if len(body) == 1 else "s"),
           '<p>Data: <a href="runs.csv">runs.csv</a> ({} rows: run x measurement x pair set), '
           '<a href="runs.txt">runs.txt</a> (the run files). Stiffness columns: train-train pairs, '
           "last measurement.</p>".format(n_rows),
           '<h2>Runs</h2><table id="runs"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) +
           "</tr></thead><tbody>"]
    for row in body:
        out.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    out.append(f'<h2>Figures ({len(figs)})</h2>')
    if not figs:
        out.append("<p>No figures (aggregated with --no-figures).</p>")
    for i, path in enumerate(figs, 1):
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        out.append(f'<figure id="fig-{e(stem)}"><img class="figure" alt="{e(stem)}" '
                   f'src="data:{mime};base64,{data}"><figcaption><b>Figure {i}.</b> '
                   f'{e(caption(stem))} <a href="{e(os.path.basename(path))}">{e(os.path.basename(path))}</a>'
                   "</figcaption></figure>")
    # Marks how many figures the browser decoded, once everything has loaded.
    out.append("<script>window.addEventListener('load',function(){var ok=0,bad=0;"
               "document.querySelectorAll('img.figure').forEach(function(i){"
               "if(i.complete&&i.naturalWidth>0)ok++;else bad++;});"
               "document.body.setAttribute('data-figures-loaded',ok);"
               "document.body.setAttribute('data-figures-broken',bad);});</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--format", default="png", choices=["png", "svg"])
    ap.add_argument("--no-figures", action="store_true")
    a = ap.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    head, body = run_table(rows)
    figs = [] if a.no_figures else figures(a.out, a.format, os.path.getmtime(a.csv) - 1)
    target = os.path.join(a.out, "index.html")
    with open(target + ".tmp", "w") as f:
        f.write(page(head, body, figs, a.format, len(rows)))
    os.replace(target + ".tmp", target)
    print(f"report: {target} ({len(body)} runs, {len(figs)} figures)")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, not a traceback
        print(f"report_html.py: error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
