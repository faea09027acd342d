#!/usr/bin/env bash
# The output file is self-sufficient: verify_file.py recomputes K from the
# stored sample and parameters alone (numpy backprop of the MLP) and the class
# stiffness from K, and checks the bookkeeping attributes. Every gradient
# method, float32 and float64; K streamed in panels of a few rows (--panel-mb
# 0.001: 32 entries of K per panel), stored in float64 and in float32.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_tmp

JOB=("${SMALL[@]}" --steps 20 --measure-log 2 --model mlp --widths 32,16)

# name  ranks  verify-args  extra stiffness options
cases=(
  "auto_f32        2  --pairs=all  --grad-method auto"
  "auto_f64        2  --pairs=all  --grad-method auto --dtype float64"
  "loop_f32        2  --pairs=all  --grad-method loop"
  "materialize_f32 2  --pairs=all  --grad-method materialize"
  "materialize_f64 2  --pairs=200  --grad-method materialize --dtype float64 --optimizer sgd --lr 0.05"
  "factor_f64_np3  3  --pairs=200  --grad-method factor --dtype float64 --seed 11"
  "panels_f64_np4  4  --pairs=all  --grad-method auto --dtype float64 --panel-mb 0.001"
  "panels_k32_np2  2  --pairs=all  --grad-method auto --panel-mb 0.002 --k-dtype float32"
)
for c in "${cases[@]}"; do
  read -r name p vargs opts <<<"$c"
  # shellcheck disable=SC2206  # word splitting of the option list is intended
  opts=($opts)
  out="$TMP/$name.h5"
  run_ok "$p" "$TMP/$name" "${JOB[@]}" "${opts[@]}" -o "$out" || continue
  [[ -e "$out.partial" ]] && fail "$name: $out.partial left next to the finished file"
  log "$name: verifying ($p ranks, ${opts[*]})"
  "$PY" "$CLI_DIR/verify_file.py" "$out" --ranks "$p" "$vargs" || fail "$name: $out does not verify"
done

finish
