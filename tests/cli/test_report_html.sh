#!/usr/bin/env bash
# The report page of `stiffness aggregate` (share/stiffness/report_html.py):
# index.html is self-contained (figures embedded, nothing fetched), and a
# real headless browser (Debian's chromium) renders it: every figure decodes
# (naturalWidth > 0, counted by the page's own script in the dumped DOM), the
# run table has one row per run with the right learning rates, and a
# screenshot is written ($TMP/report.png) and is not blank.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp
CHROMIUM=$(command -v chromium || true)
[[ -n $CHROMIUM ]] || die "chromium is not installed (scripts/install-deps.sh installs it)"

for lr in 0.001 0.01; do
  run_ok 1 "$TMP/lr$lr" "${SMALL[@]}" --model mlp --widths 16 --steps 12 --measure-log 3 \
    --distance-bins 10 --lr "$lr" -o "$TMP/runs/lr$lr.h5" || die "run lr $lr failed"
done
AGG="$TMP/agg"
"$STIFFNESS_BIN" aggregate "$TMP/runs" --output-dir "$AGG" >"$TMP/agg.out" 2>&1 ||
  { cat "$TMP/agg.out" >&2; die "aggregate failed"; }
[[ -s $AGG/index.html ]] || die "no index.html"
n_png=$(find "$AGG" -name '*.png' | wc -l)
log "aggregate wrote $n_png figures and index.html ($(wc -c <"$AGG/index.html") bytes)"
((n_png >= 4)) || fail "expected at least 4 figures, got $n_png"
# Self-contained: no http(s) references; CSV linked.
grep -Eq '(src|href)="https?:' "$AGG/index.html" && fail "index.html refers to the network"
grep -q 'href="runs.csv"' "$AGG/index.html" || fail "index.html has no link to runs.csv"
(($(grep -o '<figcaption>' "$AGG/index.html" | wc -l) == n_png)) || fail "not one caption per figure"

# Render it. A copy in a fresh folder proves nothing beside it is needed.
mkdir -p "$TMP/alone" && cp "$AGG/index.html" "$TMP/alone/"
BROWSER=(timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage
         --no-first-run --user-data-dir="$TMP/chrome-profile" --virtual-time-budget=10000)
"${BROWSER[@]}" --dump-dom "file://$TMP/alone/index.html" >"$TMP/dom.html" 2>"$TMP/chrome.err" ||
  { tail -5 "$TMP/chrome.err" >&2; die "chromium --dump-dom failed"; }
"${BROWSER[@]}" --window-size=1400,2400 --screenshot="$TMP/report.png" "file://$TMP/alone/index.html" \
  >/dev/null 2>>"$TMP/chrome.err" || { tail -5 "$TMP/chrome.err" >&2; die "chromium --screenshot failed"; }
"$PY" - "$TMP/dom.html" "$n_png" "$TMP/report.png" <<'PYEOF' || fail "the rendered page is wrong"
import re, sys
import matplotlib.image as mpimg
import numpy as np
dom, n_fig, shot = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
loaded = re.search(r'data-figures-loaded="(\d+)"', dom)
broken = re.search(r'data-figures-broken="(\d+)"', dom)
assert loaded and broken, "the page's load script did not run"
assert int(loaded.group(1)) == n_fig and int(broken.group(1)) == 0, (loaded.group(1), broken.group(1), n_fig)
table = re.search(r'<table id="runs">(.*?)</table>', dom, re.S).group(1)
rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)
assert len(rows) == 2, f"{len(rows)} table rows"
cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
assert sorted(c[0] for c in cells) == ["lr0.001.h5", "lr0.01.h5"], cells
head = re.findall(r"<th>(.*?)</th>", table)
assert "lr" in head and "val acc" in head and "xi" in head, head
lr = {c[0]: c[head.index("lr")] for c in cells}
assert lr == {"lr0.001.h5": "0.001", "lr0.01.h5": "0.01"}, lr
img = mpimg.imread(shot)
assert img.shape[0] >= 1000 and img.shape[1] >= 1000, img.shape
# Not blank: a real page has many distinct colours (the figures' lines and heatmaps).
colours = len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
assert colours > 200, f"only {colours} colours in the screenshot"
print(f"rendered: {loaded.group(1)} figures decoded, 0 broken, 2 table rows, screenshot {img.shape[1]}x{img.shape[0]} with {colours} colours")
PYEOF
finish
