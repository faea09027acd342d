#!/usr/bin/env bash
# The layering of src/ and include/stiffness/ (docs/design.md, module map):
#   runtime <- analysis <- io <- config <- nn <- app;  gpu <- nn
# A file of one layer may include headers of its own layer and of the layers
# below it, never above. Checked on the tree, then on a copy with one upward
# include planted (the check must catch it).
set -uo pipefail
: "${STIFFNESS_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# The layers each layer may include.
declare -A ALLOWED=(
  [runtime]="runtime"
  [analysis]="runtime analysis"
  [io]="runtime analysis io"
  [config]="runtime analysis io config"
  [gpu]="runtime gpu"
  [nn]="runtime analysis io config nn"
  [app]="runtime analysis io config nn app"
)

# Prints one line per violation under root $1; returns 1 if there was any.
check_tree() {
  local root=$1 bad=0 layer file inc target
  for layer in "${!ALLOWED[@]}"; do
    for dir in "$root/src/$layer" "$root/include/stiffness/$layer"; do
      [[ -d $dir ]] || continue
      while IFS= read -r file; do
        while IFS= read -r inc; do
          target=${inc#stiffness/}
          target=${target%%/*}
          if [[ " ${ALLOWED[$layer]} " != *" $target "* ]]; then
            echo "layering: ${file#"$root"/} ($layer) includes \"$inc\" ($target is not below $layer)"
            bad=1
          fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\(stiffness\/[^"]*\)".*/\1/p' "$file")
      done < <(find "$dir" -name '*.cpp' -o -name '*.hpp' -o -name '*.h')
    done
  done
  # Every header sits in a layer's folder.
  while IFS= read -r file; do
    echo "layering: ${file#"$root"/} is not in a layer's folder"
    bad=1
  done < <(find "$root/include/stiffness" -maxdepth 1 -type f)
  return $bad
}

status=0
if ! check_tree "$STIFFNESS_SRC"; then
  echo "FAIL: includes go against the layering" >&2
  status=1
fi

# The check itself must fail on an upward include.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r "$STIFFNESS_SRC/src" "$STIFFNESS_SRC/include" "$scratch/"
echo '#include "stiffness/nn/model.hpp"' >> "$scratch/src/analysis/tiling.cpp"
if check_tree "$scratch" > "$scratch/out"; then
  echo "FAIL: a planted include of nn/ from analysis/ was not caught" >&2
  status=1
elif ! grep -q 'src/analysis/tiling.cpp (analysis) includes "stiffness/nn/model.hpp"' "$scratch/out"; then
  echo "FAIL: the planted include was reported wrongly: $(cat "$scratch/out")" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "layering ok: $(find "$STIFFNESS_SRC/src" "$STIFFNESS_SRC/include" -name '*.[ch]pp' | wc -l) files"
exit $status
