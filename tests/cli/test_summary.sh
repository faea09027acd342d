#!/usr/bin/env bash
# `stiffness summary` (src/app/summary.cpp): the table of a finished run has
# one line per measurement with the file's values; --format csv and jsonl
# carry exactly the file's numbers (every pair set with --pair-set all);
# bad input gives one-line errors. (The .partial case: test_crash_resume.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

run_ok 2 "$TMP/run" "${SMALL[@]}" --model mlp --widths 16 --steps 12 --measure-log 3 -o "$TMP/run.h5" ||
  die "the run failed"
S=("$STIFFNESS_BIN" summary)

"${S[@]}" "$TMP/run.h5" >"$TMP/table.out" 2>"$TMP/table.err" || fail "summary exited non-zero: $(cat "$TMP/table.err")"
cat "$TMP/table.out"
grep -q "incomplete" "$TMP/table.out" && fail "a finished run is called incomplete"
grep -q "model mlp, fashion-mnist, adam lr 0.001" "$TMP/table.out" || fail "the header line lacks model/data/lr"
grep -q "cos_in.*cos_out.*sign_in.*sign_out.*xi.*half_len" "$TMP/table.out" || fail "the table header lacks the stiffness columns"

"${S[@]}" --format csv "$TMP/run.h5" >"$TMP/s.csv" || fail "summary --format csv failed"
"${S[@]}" --format jsonl --pair-set all "$TMP/run.h5" >"$TMP/s.jsonl" || fail "summary --format jsonl failed"
"$PY" - "$TMP/run.h5" "$TMP/s.csv" "$TMP/s.jsonl" "$TMP/table.out" <<'PYEOF' || fail "summary output disagrees with the file"
import csv, json, math, sys, h5py
path, csv_path, jsonl_path, table_path = sys.argv[1:]
f = h5py.File(path, "r")
ms = [f["measurements"][k] for k in sorted(f["measurements"])]
assert len(ms) >= 3, len(ms)
rows = list(csv.DictReader(open(csv_path)))
assert len(rows) == len(ms), (len(rows), len(ms))
for r, m in zip(rows, ms):
    cs = m["class_stiffness/train_train"]
    assert r["complete"] == "1" and r["pair_set"] == "train_train"
    assert int(r["step"]) == m.attrs["step"]
    assert float(r["val_accuracy"]) == m.attrs["val_accuracy"]
    assert float(r["train_loss"]) == m.attrs["train_loss"]
    for k in ("within_cosine", "between_cosine", "within_sign", "between_sign"):
        assert float(r[k]) == cs.attrs[k], (k, r[k], cs.attrs[k])
    # xi is NaN when the fit does not cross zero inside the data (format 2).
    xi, fxi = float(r["xi"]), cs.attrs["xi_linear"]
    assert xi == fxi or (math.isnan(xi) and math.isnan(fxi)), (xi, fxi)
    assert float(r["half_length"]) == cs.attrs["half_length"], (r["half_length"], cs.attrs["half_length"])
objs = [json.loads(line) for line in open(jsonl_path)]
assert len(objs) == 3 * len(ms), len(objs)
assert {o["pair_set"] for o in objs} == {"train_train", "train_val", "val_val"}
for o in objs:
    m = ms[[int(x.attrs["step"]) for x in ms].index(o["step"])]
    assert o["within_cosine"] == m["class_stiffness"][o["pair_set"]].attrs["within_cosine"]
    assert o["complete"] is True
# The table: one line per measurement, starting with its step.
lines = [l.split() for l in open(table_path) if l.strip() and l.split()[0].isdigit()]
assert [int(l[0]) for l in lines] == [int(m.attrs["step"]) for m in ms], lines
print(f"summary agrees with the file: {len(ms)} measurements, {len(objs)} JSON lines")
PYEOF

# Bad input: one line, non-zero.
expect_error() {  # NAME PATTERN ARGS...
  local name=$1 pattern=$2 rc=0
  shift 2
  timeout 60 "${S[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
  ((rc != 0 && rc != 124)) || fail "$name: exit $rc, expected an error"
  (($(wc -l <"$TMP/$name.err") == 1)) && grep -q -- "$pattern" "$TMP/$name.err" ||
    fail "$name: expected one line matching '$pattern', got: $(cat "$TMP/$name.err")"
}
expect_error missing "'$TMP/nope.h5' is not an HDF5 file" "$TMP/nope.h5"
echo "not hdf5" >"$TMP/text.h5"
expect_error text "'$TMP/text.h5' is not an HDF5 file" "$TMP/text.h5"
expect_error format "--format: expected table, csv or jsonl, got 'xml'" --format xml "$TMP/run.h5"
expect_error pairset "--pair-set: expected" --pair-set foo "$TMP/run.h5"
expect_error none "no input" --format csv
finish
