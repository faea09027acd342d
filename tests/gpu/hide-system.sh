#!/usr/bin/env bash
# Runs a command with this Debian machine's own MPI, HDF5, Boost, spdlog, fmt,
# zlib headers and GoogleTest hidden, so that a build can only use what was
# unpacked from .gpu-debs (the dry run of tests/gpu/run.sh).
#   unshare -m --propagation private bash tests/gpu/hide-system.sh CMD ARGS...
# Must run as root inside a private mount namespace (it refuses otherwise):
# every mount below vanishes with the namespace, nothing on the machine changes.
#
# How: each directory that holds something to hide (/usr/bin,
# /usr/lib/x86_64-linux-gnu, its cmake/ and pkgconfig/, /usr/include, ...) is
# replaced by a "farm" of symlinks to everything in it except the hidden
# entries (the symlinks point into a bind mount of the untouched /usr, /etc). Hidden entries are those that dpkg says belong only
# to the packages below, plus symlinks (update-alternatives: mpicc, mpirun,
# libmpi.so, ...) that resolve to a hidden file. The dynamic loader then finds
# no system libmpi/libhdf5/... (the ld.so.cache paths are gone), so `ldd`
# shows whether the prefix really supplies them.
set -euo pipefail

HIDE_PACKAGES=(
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev libpmix2 libpmix-dev
  libhdf5-openmpi-103-1 libhdf5-openmpi-dev libhdf5-103-1 libhdf5-hl-100 libhdf5-dev
  libhdf5-cpp-103-1 libhdf5-openmpi-cpp-103-1 libhdf5-openmpi-fortran-102 hdf5-tools
  libboost-program-options1.74.0 libboost-program-options1.74-dev libboost1.74-dev
  libboost-program-options-dev libboost-dev
  libspdlog1.10 libspdlog-dev libfmt9 libfmt-dev zlib1g-dev libgtest-dev libgmock-dev googletest
)
# Directories whose entries are filtered, parents before children.
DIRS=(
  /usr/bin /usr/include /usr/include/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
  /usr/lib/x86_64-linux-gnu/cmake /usr/lib/x86_64-linux-gnu/pkgconfig /usr/share /usr/src
  /etc/openmpi
)

(($# > 0)) || { echo "hide-system.sh: usage: hide-system.sh CMD [ARGS...]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "hide-system.sh: must run as root (bind mounts)" >&2; exit 2; }
# Refuse to run in the machine's own mount namespace: the mounts would stay.
if [[ $(readlink /proc/self/ns/mnt) == "$(readlink /proc/1/ns/mnt)" ]]; then
  echo "hide-system.sh: not in a private mount namespace; run it under 'unshare -m --propagation private'" >&2
  exit 2
fi

# A fixed scratch path: CMake records the real path of `cmake` (under it) in
# its cache, so a build tree configured in one run must find it in the next.
S=${TMPDIR:-/tmp}/hide-system
if grep -qF " $S/" /proc/self/mountinfo; then
  echo "hide-system.sh: $S is in use by mounts of this namespace (nested run?); refusing" >&2
  exit 2
fi
rm -rf --one-file-system "$S" && mkdir -p "$S"
# The entries to hide, per directory (one python pass over dpkg's file lists).
/usr/bin/python3 - "$S/hidden" "${DIRS[*]}" "${HIDE_PACKAGES[@]}" <<'PY'
import glob, os, sys
out, dirs, pkgs = sys.argv[1], sys.argv[2].split(), set(sys.argv[3:])
owners = {}
for lst in glob.glob("/var/lib/dpkg/info/*.list"):
    pkg = os.path.basename(lst)[:-5].split(":")[0]
    for line in open(lst, errors="replace"):
        owners.setdefault(line.rstrip("\n"), set()).add(pkg)
hidden_files = {p for p, o in owners.items() if o <= pkgs}
hide = []
for d in dirs:
    if not os.path.isdir(d):
        continue
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if os.path.join(d, name) in dirs:
            continue  # filtered itself, one level down
        real = os.path.realpath(p)
        if p in hidden_files or (os.path.islink(p) and real in hidden_files) \
                or (os.path.islink(p) and not os.path.exists(p) and "openmpi" in os.readlink(p)):
            hide.append(p)
open(out, "w").write("\n".join(hide) + "\n")
PY

declare -A HIDDEN=() FILTERED=()
while IFS= read -r h; do [[ -n $h ]] && HIDDEN[$h]=1; done <"$S/hidden"
for d in "${DIRS[@]}"; do FILTERED[$d]=1; done
# Untouched views of /usr and /etc, taken before any farm is mounted (private
# propagation: later mounts on /usr/... do not show through them). The farms
# link into these, so a program that finds its files relative to its real
# path (cmake: ../share/cmake-3.25, g++: ../lib/gcc) still finds them.
mkdir -p "$S/o/usr" "$S/o/etc"
mount --bind /usr "$S/o/usr"
mount --bind /etc "$S/o/etc"
i=0
for d in "${DIRS[@]}"; do
  [[ -d $d ]] || continue
  i=$((i + 1))
  farm=$S/farm$i
  mkdir -p "$farm"
  for e in "$S/o$d"/* "$S/o$d"/.[!.]*; do
    [[ -e $e || -L $e ]] || continue
    name=${e##*/}
    [[ -n ${HIDDEN[$d/$name]:-} ]] && continue
    # A filtered subdirectory gets a real mount point for its own farm.
    if [[ -n ${FILTERED[$d/$name]:-} ]]; then mkdir "$farm/$name"; else ln -s "$e" "$farm/$name"; fi
  done
  mount --bind "$farm" "$d"
done
echo "hide-system.sh: hid $(grep -c . "$S/hidden") entries (list: $S/hidden)" >&2
exec "$@"
