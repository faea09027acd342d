#!/usr/bin/env bash
# The same job on 1, 2, 3 and 4 ranks gives the same K, class stiffness and
# steps (N = 50 is divisible by neither 3 nor 4, so the blocks are uneven);
# only the `ranks` attribute differs. Also the cnn with --grad-method factor
# and loop, at 1 vs 3 ranks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

# --- mlp, float64, 1..4 ranks ---------------------------------------------
MLP=("${SMALL[@]}" --steps 20 --measure-log 2 --model mlp --widths 32,16 --dtype float64 --seed 3 --sample-seed 5)
specs=()
for p in 1 2 3 4; do
  out="$TMP/mlp_np$p.h5"
  run_ok "$p" "$TMP/mlp_np$p" "${MLP[@]}" -o "$out" && specs+=("$out:$p")
done
if ((${#specs[@]} == 4)); then
  log "mlp float64: comparing 2, 3, 4 ranks with 1 rank"
  "$PY" "$CLI_DIR/compare_ranks.py" --tol 1e-5 "${specs[@]}" || fail "mlp float64: rank counts disagree"
fi

# --- panels: tiny budgets give today's results ------------------------------
# --panel-mb 0.001 is 1048 bytes: 32 entries of K (with distances, 8 + 8 +
# 2 x 8 bytes each), panels of one row against tiles 13-50 wide. Same K, class
# and distance results as whole-tile panels, to 1e-10, at every rank count.
for p in 1 2 3 4; do
  [[ -e "$TMP/mlp_np$p.h5" ]] || continue
  out="$TMP/mlp_tiny_np$p.h5"
  run_ok "$p" "$TMP/mlp_tiny_np$p" "${MLP[@]}" --panel-mb 0.001 -o "$out" || continue
  grep -q "panels: 0.001 MB of K per rank at a time (--panel-mb)" "$TMP/mlp_tiny_np$p.out" \
    || fail "np$p: the log does not report the panel budget"
  "$PY" "$CLI_DIR/compare_ranks.py" --same-ranks --tol 1e-10 --cos-tol 1e-10 "$TMP/mlp_np$p.h5:$p" "$out:$p" \
    || fail "np$p: panels of 0.001 MB disagree with the default panels"
done

# --- cnn, factor and loop, 1 vs 3 ranks ------------------------------------
# --grad-method factor on a conv layer costs ~N^2 T^2 (T = positions): on
# 28x28 inputs that is 15-50 s per measurement here, so the cnn runs use
# generated 14x14 images (T = 196), 600 train / 300 validation.
"$PY" "$CLI_DIR/make_idx.py" "$TMP/data14" --train 600 --val 300 --size 14 --seed 7 \
  || die "cannot write the 14x14 IDX files"
CNN=(--data-dir "$TMP/data14" --per-class 3 --val-per-class 2 --eval-examples 200 --batch-size 16
     --progress-seconds 1000 --model cnn --channels 4,8,8 --steps 10 --measure-log 2 --seed 1)
for method in factor loop; do
  for dtype in float64 float32; do
    [[ $method == loop && $dtype == float32 ]] && continue  # covered by factor; keeps the suite fast
    tag="cnn_${method}_${dtype}"
    ok=1
    for p in 1 3; do
      run_ok "$p" "$TMP/${tag}_np$p" "${CNN[@]}" --grad-method "$method" --dtype "$dtype" \
        -o "$TMP/${tag}_np$p.h5" || ok=0
    done
    ((ok)) || continue
    grep -q "gradients:.*$method" "$TMP/${tag}_np1.out" || fail "$tag: the log does not report grad method $method"
    log "$tag: comparing 3 ranks with 1 rank"
    # float32 gradients: the cosine of an example with a small gradient can
    # move by more than the K tolerance, so cosines get an absolute 1e-3.
    cos_tol=1e-4
    [[ $dtype == float32 ]] && cos_tol=1e-3
    "$PY" "$CLI_DIR/compare_ranks.py" --tol 1e-5 --cos-tol "$cos_tol" \
      "$TMP/${tag}_np1.h5:1" "$TMP/${tag}_np3.h5:3" || fail "$tag: 1 and 3 ranks disagree"
  done
done

finish
