#!/usr/bin/env bash
# Bad input fails cleanly: non-zero exit (no hang), exactly one
# "stiffness: error: ..." line on stderr that names what was wrong, no MPI
# abort, and nothing at the output path (nor <output>.partial). Plus the
# positive --overwrite case, `train --help` and the bare `stiffness` usage.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp
mkdir -p "$TMP/log"

# ---- small IDX data sets (200 train / 100 t10k, 28x28) and broken copies ----
D="$TMP/data"
"$PY" "$CLI_DIR/make_idx.py" "$D" --train 200 --val 100 || die "make_idx.py failed"
"$PY" "$CLI_DIR/make_idx.py" "$TMP/raw" --train 200 --val 100 --raw || die "make_idx.py --raw failed"
"$PY" - "$TMP" <<'PYEOF' || die "cannot build the broken data sets"
import gzip, os, shutil, sys
tmp = sys.argv[1]
def copy(src, name):
    dst = os.path.join(tmp, name)
    shutil.copytree(os.path.join(tmp, src), dst)
    return dst
def edit(path, fn):
    with open(path, "rb") as f:
        b = bytearray(f.read())
    b = fn(b)
    with open(path, "wb") as f:
        f.write(b)
# train images missing
d = copy("data", "no_images"); os.remove(os.path.join(d, "train-images-idx3-ubyte.gz"))
# t10k labels missing
d = copy("data", "no_val_labels"); os.remove(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
# bad magic (raw file): 0x12 0x34 instead of 0x00 0x00
d = copy("raw", "bad_magic")
edit(os.path.join(d, "train-images-idx3-ubyte"), lambda b: b"\x12\x34" + b[2:])
# bad magic inside a gzip stream
d = copy("data", "bad_magic_gz")
p = os.path.join(d, "t10k-images-idx3-ubyte.gz")
raw = gzip.decompress(open(p, "rb").read())
open(p, "wb").write(gzip.compress(b"\x00\x00\x0d" + raw[3:]))
# truncated gzip: the compressed stream cut in the middle
d = copy("data", "truncated_gz")
edit(os.path.join(d, "train-images-idx3-ubyte.gz"), lambda b: b[: len(b) // 2])
# truncated raw labels
d = copy("raw", "truncated_raw")
edit(os.path.join(d, "train-labels-idx1-ubyte"), lambda b: b[:-7])
# corrupted gzip data (CRC / inflate error)
d = copy("data", "corrupt_gz")
def flip(b):
    for i in range(2000, 2100):
        b[i] ^= 0x55
    return b
edit(os.path.join(d, "train-images-idx3-ubyte.gz"), flip)
# label 12 at index 17 with 10 classes
d = copy("raw", "label_range")
def lab(b):
    b[8 + 17] = 12
    return b
edit(os.path.join(d, "train-labels-idx1-ubyte"), lab)
# 199 labels for 200 images
d = copy("raw", "count_mismatch")
edit(os.path.join(d, "train-labels-idx1-ubyte"), lambda b: b[:4] + (199).to_bytes(4, "big") + b[8:-1])
PYEOF

# Base options of every case; a case may drop some (an option can be given
# only once) and add its own.
BASE=(--data-dir "$D" --per-class 3 --val-per-class 2 --steps 5 --measure-log 1 --eval-examples 50
      --batch-size 16 --widths 8 --progress-seconds 1000)
# base_args OPT...: ARGS = BASE without the listed options (and their values).
base_args() {
  ARGS=()
  local i skip o
  for ((i = 0; i < ${#BASE[@]}; i += 2)); do
    skip=0
    for o in "$@"; do [[ ${BASE[i]} == "$o" ]] && skip=1; done
    ((skip)) || ARGS+=("${BASE[i]}" "${BASE[i + 1]}")
  done
}

mpi_noise='^(-{10,}|Primary job|a non-zero exit|mpiexec (detected|noticed)|the job to be|  Process name|  Exit code|$)'

# expect_fail NAME "P..." OUTPUT PATTERN... -- ARGS...
#   Runs `stiffness train ARGS -o OUTPUT` on each rank count P and checks a
#   clean failure. PATTERNs are fixed strings the error line must contain
#   ("re:..." for an extended regex).
expect_fail() {
  local name=$1 ranks=$2 out=$3
  shift 3
  local -a pats=()
  while (($#)) && [[ $1 != -- ]]; do pats+=("$1"); shift; done
  shift
  local p prefix rc errline n pat ok
  for p in $ranks; do
    prefix="$TMP/log/$name.np$p"
    rc=0
    run_stiffness "$p" "$prefix" "$@" -o "$out" || rc=$?
    ok=1
    if ((rc == 124 || rc == 137)); then
      fail "$name ($p ranks): hung (killed by timeout)"; ok=0
    elif ((rc == 0)); then
      fail "$name ($p ranks): exited 0, expected a failure"; ok=0
    fi
    n=$(grep -c '^stiffness: error' "$prefix.err")
    if ((n != 1)); then
      fail "$name ($p ranks): $n lines starting with 'stiffness: error' on stderr, expected 1"; ok=0
    fi
    errline=$(grep -m1 '^stiffness: error' "$prefix.err")
    if [[ -n $errline && $errline != "stiffness: error: "* ]]; then
      fail "$name ($p ranks): error line is not 'stiffness: error: ...' (unexpected-error path?): $errline"; ok=0
    fi
    if grep -q 'MPI_ABORT' "$prefix.err"; then
      fail "$name ($p ranks): the job was aborted (MPI_ABORT) instead of exiting cleanly"; ok=0
    fi
    if grep -Ev "$mpi_noise" "$prefix.err" | grep -v '^stiffness: error: ' | grep -q .; then
      fail "$name ($p ranks): other lines on stderr besides the error and mpiexec's report"; ok=0
    fi
    for pat in "${pats[@]}"; do
      if [[ $pat == re:* ]]; then
        grep -Eq -- "${pat#re:}" <<<"$errline" || { fail "$name ($p ranks): error line lacks /${pat#re:}/"; ok=0; }
      else
        grep -Fq -- "$pat" <<<"$errline" || { fail "$name ($p ranks): error line lacks '$pat'"; ok=0; }
      fi
    done
    if [[ -e $out && ${KEEP_OUTPUT:-0} != 1 ]]; then
      fail "$name ($p ranks): something exists at the output path $out"; ok=0
    fi
    if [[ -e $out.partial && ${KEEP_PARTIAL:-0} != 1 ]]; then
      fail "$name ($p ranks): $out.partial was left behind"; ok=0
    fi
    if ((ok)); then
      log "ok   $name ($p ranks, exit $rc): $errline"
    else
      echo "---- stderr of $name ($p ranks), exit $rc:" >&2
      cat "$prefix.err" >&2
    fi
  done
}

O="$TMP/out"   # output folder of the failure cases
base_args --data-dir
expect_fail missing_data_dir "1 2 3" "$O/a.h5" "$TMP/nonexistent/train-images-idx3-ubyte" "not found" \
  -- "${ARGS[@]}" --data-dir "$TMP/nonexistent"
expect_fail missing_images "2" "$O/a.h5" "$TMP/no_images/train-images-idx3-ubyte" "not found" \
  -- "${ARGS[@]}" --data-dir "$TMP/no_images"
expect_fail missing_val_labels "2" "$O/a.h5" "$TMP/no_val_labels/t10k-labels-idx1-ubyte" \
  -- "${ARGS[@]}" --data-dir "$TMP/no_val_labels"
expect_fail bad_magic "1 2 3" "$O/a.h5" "$TMP/bad_magic/train-images-idx3-ubyte" "magic" \
  -- "${ARGS[@]}" --data-dir "$TMP/bad_magic"
expect_fail bad_magic_gz "2" "$O/a.h5" "$TMP/bad_magic_gz/t10k-images-idx3-ubyte.gz" "magic" \
  -- "${ARGS[@]}" --data-dir "$TMP/bad_magic_gz"
expect_fail truncated_gz "2" "$O/a.h5" "$TMP/truncated_gz/train-images-idx3-ubyte.gz" "truncated" \
  -- "${ARGS[@]}" --data-dir "$TMP/truncated_gz"
expect_fail truncated_raw "2" "$O/a.h5" "$TMP/truncated_raw/train-labels-idx1-ubyte" "truncated" \
  -- "${ARGS[@]}" --data-dir "$TMP/truncated_raw"
expect_fail corrupt_gz "2" "$O/a.h5" "$TMP/corrupt_gz/train-images-idx3-ubyte.gz" \
  -- "${ARGS[@]}" --data-dir "$TMP/corrupt_gz"
expect_fail label_out_of_range "2 3" "$O/a.h5" "$TMP/label_range/train-labels-idx1-ubyte" "out of range" "12" \
  -- "${ARGS[@]}" --data-dir "$TMP/label_range"
expect_fail count_mismatch "2" "$O/a.h5" "$TMP/count_mismatch/train-labels-idx1-ubyte" "200" "199" \
  -- "${ARGS[@]}" --data-dir "$TMP/count_mismatch"

base_args
expect_fail model_resnet99 "2" "$O/a.h5" "--model" "resnet99" -- "${ARGS[@]}" --model resnet99
base_args
expect_fail lr_zero "2" "$O/a.h5" "--lr" -- "${ARGS[@]}" --lr 0
expect_fail lr_negative "1 2" "$O/a.h5" "--lr" "-1" -- "${ARGS[@]}" --lr -1
# The message must show the value given, not a rounded "-0.000000".
expect_fail lr_tiny_negative "2" "$O/a.h5" "--lr" "re:-1(\.0+)?e-0?9" -- "${ARGS[@]}" --lr -1e-9
base_args --per-class
expect_fail per_class_zero "2" "$O/a.h5" "--per-class" "0" -- "${ARGS[@]}" --per-class 0
expect_fail per_class_too_many "2 3" "$O/a.h5" "100000" "per class" -- "${ARGS[@]}" --per-class 100000
base_args --widths
expect_fail widths_abc "2" "$O/a.h5" "--widths" "10,abc" -- "${ARGS[@]}" --widths 10,abc
base_args
expect_fail unknown_option "2" "$O/a.h5" "--bogus" -- "${ARGS[@]}" --bogus 1
expect_fail config_missing "1 2 3" "$O/a.h5" "--config" "$TMP/nope.ini" -- "${ARGS[@]}" --config "$TMP/nope.ini"
mkdir -p "$TMP/config_dir.ini"
expect_fail config_is_folder "2" "$O/a.h5" "--config" "$TMP/config_dir.ini" \
  -- "${ARGS[@]}" --config "$TMP/config_dir.ini"
printf 'lr = 0.01\nbogus-key = 3\n' >"$TMP/bad_key.ini"
expect_fail config_bad_key "2" "$O/a.h5" "bogus-key" -- "${ARGS[@]}" --config "$TMP/bad_key.ini"
expect_fail grad_method_nope "2" "$O/a.h5" "--grad-method" "nope" -- "${ARGS[@]}" --grad-method nope
base_args --batch-size
expect_fail batch_size_zero "2" "$O/a.h5" "--batch-size" "0" -- "${ARGS[@]}" --batch-size 0
expect_fail batch_size_too_big "2" "$O/a.h5" "--batch-size" "300" -- "${ARGS[@]}" --batch-size 300

# ---- unwritable output paths ----
base_args
expect_fail output_under_proc "2" "/proc/stiffness/x.h5" "/proc/stiffness" -- "${ARGS[@]}"
echo "not a folder" >"$TMP/plain_file"
expect_fail output_under_file "1 2" "$TMP/plain_file/x.h5" "$TMP/plain_file" -- "${ARGS[@]}"
[[ $(cat "$TMP/plain_file") == "not a folder" ]] || fail "output_under_file: $TMP/plain_file was modified"
mkdir -p "$TMP/out_is_folder.h5"
KEEP_OUTPUT=1 expect_fail output_is_folder "2" "$TMP/out_is_folder.h5" "$TMP/out_is_folder.h5" "folder" \
  -- "${ARGS[@]}"

# ---- an existing output: refused without --overwrite, untouched ----
EXIST="$TMP/exist/run.h5"
run_ok 2 "$TMP/log/exist_first" "${ARGS[@]}" -o "$EXIST" || die "cannot make the existing output"
sum_before=$(sha256sum <"$EXIST")
KEEP_OUTPUT=1 expect_fail existing_output "1 2 3" "$EXIST" "$EXIST" "already exists" "--overwrite" \
  -- "${ARGS[@]}" --seed 5
[[ $(sha256sum <"$EXIST") == "$sum_before" ]] || fail "existing_output: $EXIST was modified"

# ---- a finished output AND a checkpoint of the same name: resuming would
# rename the checkpoint's .partial over the finished file, so it is refused ----
mkdir -p "$EXIST.ckpt" && echo "step 3" >"$EXIST.ckpt/state.txt"
KEEP_OUTPUT=1 expect_fail finished_and_checkpoint "2" "$EXIST" "$EXIST" "is a finished run" "$EXIST.ckpt" \
  -- "${ARGS[@]}"
[[ $(sha256sum <"$EXIST") == "$sum_before" ]] || fail "finished_and_checkpoint: $EXIST was modified"
rm -rf "$EXIST.ckpt"

# ---- a stale <output>.partial (no checkpoint): refused without --overwrite ----
STALE="$TMP/stale/run.h5"
mkdir -p "$TMP/stale" && echo "stale partial" >"$STALE.partial"
KEEP_PARTIAL=1 expect_fail stale_partial "2" "$STALE" "$STALE.partial" "--overwrite" -- "${ARGS[@]}"
[[ $(cat "$STALE.partial" 2>/dev/null) == "stale partial" ]] || fail "stale_partial: $STALE.partial was modified"

# ---- positive: --overwrite replaces the existing file ----
rc=0
run_stiffness 2 "$TMP/log/overwrite" "${ARGS[@]}" --seed 5 --overwrite -o "$EXIST" || rc=$?
if ((rc != 0)); then
  fail "overwrite: exited $rc"; cat "$TMP/log/overwrite.err" >&2
else
  [[ $(sha256sum <"$EXIST") != "$sum_before" ]] || fail "overwrite: $EXIST is unchanged"
  [[ -e $EXIST.partial ]] && fail "overwrite: $EXIST.partial left behind"
  "$PY" - "$EXIST" <<'PYEOF' || fail "overwrite: the new file is not the --seed 5 run"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["complete"] == 1, "complete != 1"
    assert "--seed 5" in f.attrs["command_line"], f.attrs["command_line"]
    assert int(f.attrs["ranks"]) == 2
PYEOF
  log "ok   overwrite: --overwrite replaced $EXIST (exit 0)"
fi

# ---- train --help ----
rc=0
run_stiffness 2 "$TMP/log/help" --help || rc=$?
H="$TMP/log/help.out"
((rc == 0)) || fail "train --help exited $rc"
n=$(grep -c '^usage: stiffness train' "$H")
((n == 1)) || fail "train --help on 2 ranks printed the usage $n times, expected once"
# Every option of the option table is listed.
TABLE="$STIFFNESS_SRC/src/config/options.cpp"
opts=$(sed -n '/make_table()/,/^}/p' "$TABLE" | grep -oE '^ *(with_short\(.{3}, )?[a-z_]+\("[a-z][a-z0-9-]*"' |
  grep -oE '"[a-z0-9-]+"' | tr -d '"')
(($(wc -w <<<"$opts") > 40)) || fail "could not read the option list from $TABLE"
for o in $opts; do
  grep -Eq -- "--$o( |$)" "$H" || fail "train --help does not list --$o (binary older than $TABLE?)"
done
for d in "--lr arg (=0.001)" "--per-class arg (=50)" "--val-per-class arg (=50)" "--grad-method arg (=auto)" \
         "--batch-size arg (=32)" "--model arg (=mlp)" "--dtype arg (=float32)" "--widths arg (=500,300,100)" \
         "--sample-seed arg (=1)" "--measure-log arg (=6)" "(=results/stiffness.h5)"; do
  grep -Fq -- "$d" "$H" || fail "train --help lacks '$d'"
done
# Every option that takes a value shows its default, except those without one.
for o in $opts; do
  case $o in help | config | overwrite | check-only | measure-steps | script) continue ;; esac
  grep -Eq -- "--$o arg \(=" "$H" || grep -Eq -- "--$o \] arg \(=" "$H" || fail "train --help shows no default for --$o"
done
((FAILURES == 0)) && log "ok   train --help lists every option with its default"

# ---- bare `stiffness` and an unknown command ----
rc=0
timeout 60 mpiexec -n 2 --oversubscribe "$STIFFNESS_BIN" >"$TMP/log/bare.out" 2>"$TMP/log/bare.err" || rc=$?
((rc != 0 && rc != 124)) || fail "'stiffness' with no command exited $rc, expected non-zero"
grep -q '^usage: stiffness' "$TMP/log/bare.err" || fail "'stiffness' with no command printed no usage on stderr"
n=$(grep -c '^usage: stiffness' "$TMP/log/bare.err")
((n == 1)) || fail "'stiffness' with no command on 2 ranks printed the usage $n times"
rc=0
timeout 60 mpiexec -n 2 --oversubscribe "$STIFFNESS_BIN" frobnicate >"$TMP/log/unknown.out" 2>"$TMP/log/unknown.err" || rc=$?
((rc != 0 && rc != 124)) || fail "'stiffness frobnicate' exited $rc, expected non-zero"
grep -q "^stiffness: error: unknown command 'frobnicate'" "$TMP/log/unknown.err" \
  || fail "'stiffness frobnicate' printed no 'unknown command' error"
log "checked bare 'stiffness' (exit non-zero with usage) and an unknown command"

finish
