#!/usr/bin/env bash
# Downloads (never installs) the Debian 12 .debs that tests/gpu/run.sh unpacks
# on a GPU machine that has no Debian packages (docs/gpu.md, gpu-notes §4):
#   core/     MPI, parallel HDF5, Boost.ProgramOptions, spdlog/fmt, zlib and
#             GoogleTest headers and libraries, plus hdf5-tools (h5diff) and
#             the googletest sources (rebuilt there if the static libs fail)
#   closure/  what libcurl4 (NEEDED by every libhdf5) loads, found by walking
#             the ELF NEEDED entries from libcurl.so.4. run.sh links only the
#             sonames the GPU machine lacks, so they never shadow its own.
# Run on a Debian 12 machine with access to Debian's archive, as any user:
#   bash tests/gpu/fetch-debs.sh      -> .gpu-debs/ (ignored by git)
# Then carry .gpu-debs with the working tree (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."

CORE=(
  # Open MPI 4.1 and what its libraries and plugins load.
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7
  libfabric1 libucx0 libibverbs1 librdmacm1 ibverbs-providers libpsm2-2
  libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libnuma1 libmunge2 libatomic1
  # Parallel HDF5 (and the serial one that h5diff/h5dump link).
  libhdf5-openmpi-103-1 libhdf5-openmpi-dev libsz2 libaec0 libcurl4
  hdf5-tools libhdf5-103-1 libhdf5-hl-100
  # Command line, logging, zlib.
  libboost-program-options1.74.0 libboost-program-options1.74-dev libboost1.74-dev
  libspdlog1.10 libspdlog-dev libfmt9 libfmt-dev zlib1g-dev
  # GoogleTest: headers, static libs and CMake config; sources as fallback.
  libgtest-dev googletest
)
# The ELF NEEDED closure of libcurl.so.4 beyond glibc and zlib (checked with
# readelf on the unpacked packages: nothing else is missing).
CLOSURE=(
  libbrotli1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2
  libkeyutils1 libidn2-0 libunistring2 libldap-2.5-0 libsasl2-2 libnghttp2-14
  libpsl5 librtmp1 libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0
  libtasn1-6 libffi8 libssh2-1 libssl3
)

if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  echo "fetch-debs.sh: needs a Debian 12 (bookworm) machine: its apt lists choose the versions" >&2
  exit 1
fi
dest=.gpu-debs
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu-debs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for part in core closure; do
  mkdir -p "$tmp/$part"
  if [[ $part == core ]]; then pkgs=("${CORE[@]}"); else pkgs=("${CLOSURE[@]}"); fi
  # apt-get download writes into the current directory. Running as root it
  # warns that _apt cannot write there; that is harmless.
  if ! (cd "$tmp/$part" && apt-get download "${pkgs[@]}" >"$tmp/$part.log" 2>&1); then
    echo "fetch-debs.sh: apt-get download failed for the $part set:" >&2
    grep -E '^(E|W):' "$tmp/$part.log" | grep -v unsandboxed >&2 || tail -5 "$tmp/$part.log" >&2
    exit 1
  fi
  got=$(find "$tmp/$part" -name '*.deb' | wc -l)
  if ((got != ${#pkgs[@]})); then
    echo "fetch-debs.sh: $part set: expected ${#pkgs[@]} .debs, got $got" >&2
    exit 1
  fi
done
# Replace the old set only once the new one is complete.
rm -rf "$dest"
mkdir -p "$dest"
mv "$tmp/core" "$tmp/closure" "$dest/"
dpkg-query -W -f='${Version}\n' libc6 >"$dest/built-on-glibc"
total=$(du -cb "$dest"/*/*.deb | tail -1 | cut -f1)
awk -v c="$(ls "$dest"/core | wc -l)" -v k="$(ls "$dest"/closure | wc -l)" -v d="$dest" -v t="$total" \
  'BEGIN { printf "fetch-debs.sh: %d core + %d closure .debs in %s/, %.1f MiB in all\n", c, k, d, t / 1048576 }'
if ((total > 35 * 1048576)); then
  echo "fetch-debs.sh: more than 35 MiB: the carried tree must stay under 64 MiB" >&2
  exit 1
fi
