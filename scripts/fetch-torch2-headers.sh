#!/usr/bin/env bash
# Fetches the LibTorch 2.6 headers of Debian 13 (trixie)'s libtorch-dev into a
# cache folder and prints that folder (it holds usr/include/{ATen,c10,caffe2,
# torch,...}). tests/cli/test_torch2_api.sh compiles src/nn against them to
# catch API breakage between Debian 12's LibTorch 1.13 and the 2.x of GPU
# machines (docs/gpu.md) before any GPU run.
#
# Uses apt with a private sources list and lists folder, so the machine's own
# apt configuration (bookworm) is neither read nor changed. Idempotent: a
# complete earlier fetch is reused without network.
#   STIFFNESS_TORCH2_CACHE  cache folder (default /var/cache/stiffness/torch2)
set -euo pipefail

CACHE=${STIFFNESS_TORCH2_CACHE:-/var/cache/stiffness/torch2}
SUITE=trixie
PKG=libtorch-dev
if [[ -f $CACHE/complete && -f $CACHE/usr/include/torch/csrc/api/include/torch/torch.h ]]; then
  echo "$CACHE"
  exit 0
fi
mkdir -p "$CACHE" || { echo "fetch-torch2-headers.sh: cannot create $CACHE" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/torch2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb http://deb.debian.org/debian $SUITE main" >"$tmp/sources.list"
APT=(apt-get -q -o Dir::Etc::SourceList="$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Acquire::Languages=none
  -o Acquire::Retries=3)
if ! "${APT[@]}" update >"$tmp/update.log" 2>&1; then
  echo "fetch-torch2-headers.sh: apt-get update of Debian $SUITE failed:" >&2
  tail -5 "$tmp/update.log" >&2
  exit 1
fi
# apt-get download writes into the current folder (as root it warns that
# _apt cannot write there: harmless).
if ! (cd "$tmp" && "${APT[@]}" download "$PKG" >"$tmp/download.log" 2>&1) ||
  ! ls "$tmp"/"$PKG"_*.deb >/dev/null 2>&1; then
  echo "fetch-torch2-headers.sh: apt-get download $PKG from Debian $SUITE failed:" >&2
  tail -5 "$tmp/download.log" >&2
  exit 1
fi
rm -rf "${CACHE:?}/usr" "$CACHE/complete"
dpkg -x "$tmp"/"$PKG"_*.deb "$CACHE"
basename "$tmp"/"$PKG"_*.deb >"$CACHE/complete"
echo "$CACHE"
