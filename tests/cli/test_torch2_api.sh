#!/usr/bin/env bash
# src/nn and src/app compile against the LibTorch 2.x API, not only Debian 12's 1.13: GPU
# machines use PyTorch's 2.x wheels (docs/gpu.md), and no GPU run should be the
# first to find a removed or changed call. Every src/nn/*.cpp and src/app/*.cpp is checked with
# `g++ -fsyntax-only`, with this build's own defines and include folders, in a
# private mount namespace where Debian 13's libtorch-dev 2.6 headers replace
# /usr/include/{ATen,c10,caffe2,torch} (nothing outside the namespace changes).
# The headers come from scripts/fetch-torch2-headers.sh (cached after the
# first fetch); a failed fetch fails this test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Only the build files are needed, not the binary (nor h5py): no setup_tmp.
rm -rf "$TMP" && mkdir -p "$TMP" || die "cannot create scratch folder $TMP"

BUILD=$(dirname "$STIFFNESS_BIN")
T=$(bash "$STIFFNESS_SRC/scripts/fetch-torch2-headers.sh") || die "could not fetch Debian 13's libtorch-dev headers"
grep -q 'TORCH_VERSION_MAJOR 2' "$T/usr/include/torch/csrc/api/include/torch/version.h" ||
  die "$T: not LibTorch 2.x headers"

# The compile flags of stiffness_nn's sources, from the build files (Unix
# Makefiles or Ninja), without the precompiled header (built with 1.13).
if [[ -f $BUILD/CMakeFiles/stiffness_nn.dir/flags.make ]]; then
  flags=$(sed -n 's/^CXX_\(DEFINES\|INCLUDES\|FLAGS\) = //p' "$BUILD/CMakeFiles/stiffness_nn.dir/flags.make" | tr '\n' ' ')
elif [[ -f $BUILD/build.ninja ]]; then
  flags=$(awk '/^build CMakeFiles\/stiffness_nn\.dir\/src\/nn\/[^ ]*\.o:/ { b = 1; next }
    b && /^  (DEFINES|INCLUDES|FLAGS) = / { sub(/^  [A-Z]+ = /, ""); printf "%s ", $0 }
    b && /^$/ { exit }' "$BUILD/build.ninja")
else
  die "no flags.make or build.ninja for stiffness_nn under $BUILD"
fi
[[ $flags == *-I* ]] || die "no include folders found in the build files of $BUILD"
# The build files escape quotes for the shell (-DSTIFFNESS_VERSION=\"0.1.0\").
eval "FLAGS=($flags)"
CXXFLAGS=()
skip=0
for f in "${FLAGS[@]}"; do
  if ((skip)); then skip=0; continue; fi
  case $f in
    -include) skip=1 ;;
    -Winvalid-pch | -O* | -g*) ;;
    *) CXXFLAGS+=("$f") ;;
  esac
done
SOURCES=("$STIFFNESS_SRC"/src/nn/*.cpp "$STIFFNESS_SRC"/src/app/*.cpp)
log "${#SOURCES[@]} files of src/nn and src/app against $(cat "$T/complete"), 2 at a time"

# In the namespace: the 2.6 headers over the 1.13 ones, then each file on its
# own (its log and exit status under $TMP).
export T TMP
export CXXFLAGS_STR="${CXXFLAGS[*]@Q}"
timeout -k 10 540 unshare -m --propagation private bash -c '
  set -e
  for d in ATen c10 caffe2 torch; do mount --bind "$T/usr/include/$d" "/usr/include/$d"; done
  grep -q "TORCH_VERSION_MAJOR 2" /usr/include/torch/csrc/api/include/torch/version.h
  # With these flags the compiler must see the 2.x headers, not another LibTorch.
  eval "F=($CXXFLAGS_STR)"
  printf "#include <torch/version.h>\nstatic_assert(TORCH_VERSION_MAJOR == 2, \"not LibTorch 2.x\");\n" >"$TMP/version.cpp"
  g++ -fsyntax-only "${F[@]}" "$TMP/version.cpp" ||
    { echo "the build flags do not reach the LibTorch 2.6 headers mounted over /usr/include"; exit 1; }
  printf "%s\n" "$@" | xargs -P 2 -I{} bash -c "
    eval \"F=(\$CXXFLAGS_STR)\"
    n=\$(basename \$(dirname {}))_\$(basename {} .cpp)
    g++ -fsyntax-only \"\${F[@]}\" {} >\"\$TMP/\$n.log\" 2>&1
    echo \$? >\"\$TMP/\$n.rc\"
  "
' _ "${SOURCES[@]}" || fail "the mount namespace or the compile loop failed (exit $?)"

for s in "${SOURCES[@]}"; do
  n=$(basename "$(dirname "$s")")_$(basename "$s" .cpp)
  if [[ ! -f $TMP/$n.rc ]]; then
    fail "${s#"$STIFFNESS_SRC"/}: not compiled (timeout?)"
  elif [[ $(cat "$TMP/$n.rc") != 0 ]]; then
    fail "${s#"$STIFFNESS_SRC"/} does not compile against LibTorch 2.6:"
    grep -m5 'error' "$TMP/$n.log" >&2
  fi
done
finish
