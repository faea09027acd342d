# shellcheck shell=bash
# Steps of tests/gpu/run.sh (sourced by it): each is a function that run.sh
# runs under `timeout` as `bash -c "$(declare -f f); f"`, so it may use only
# exported variables (P, B, DRY, JOBS, TORCH_PREFIX, NCCL_ROOT, GTEST_DIR, ...)
# and prints what run.sh reads back (KEY=VALUE lines, or its log).

# --- 1. versions --------------------------------------------------------------
versions() {
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  dry run: $DRY  cores: $(nproc)"
  echo "glibc: $(ldd --version 2>&1 | head -1)"
  echo "g++: $(g++ --version 2>&1 | head -1)"
  echo "cmake: $(cmake --version 2>&1 | head -1)  ($(command -v cmake))"
  echo "ninja: $(ninja --version 2>&1 || echo none)"
  echo "nvcc: $(nvcc --version 2>&1 | tail -1)"
  echo "python: $(python3 --version 2>&1) ($(command -v python3))"
  echo "dpkg: $(command -v dpkg || echo none)  ar: $(command -v ar || echo none)"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | sed 's/^/nvidia-smi: /'
  python3 - <<'PY' 2>&1
import glob, os
try:
    import torch
except Exception as e:
    print(f"torch: not importable ({type(e).__name__}: {e})")
    raise SystemExit(0)
print("torch:", torch.__version__, " torch.version.cuda:", torch.version.cuda,
      " compiled_with_cxx11_abi:", torch.compiled_with_cxx11_abi())
print("TORCH_PREFIX=" + torch.utils.cmake_prefix_path)
inc = os.path.join(os.path.dirname(torch.__file__), "include")
print("torch/include/fmt exists:", os.path.isdir(os.path.join(inc, "fmt")))
print("torch matmul allow_tf32 default:", torch.backends.cuda.matmul.allow_tf32,
      " cudnn allow_tf32 default:", torch.backends.cudnn.allow_tf32)
try:
    import nvidia.nccl
    root = list(nvidia.nccl.__path__)[0]
    print("NCCL_ROOT=" + root)
    print("nccl wheel:", root, sorted(os.path.basename(p) for p in glob.glob(root + "/lib/*")),
          "nccl.h:", os.path.exists(root + "/include/nccl.h"))
except Exception as e:
    print(f"nccl wheel: not importable ({type(e).__name__}: {e})")
if torch.cuda.is_available():
    print("cuda device:", torch.cuda.get_device_name(0), " count:", torch.cuda.device_count())
    print("torch nccl version:", torch.cuda.nccl.version())
    print("DEFAULT_STREAM=%d" % torch.cuda.current_stream().cuda_stream)
else:
    print("cuda: torch.cuda.is_available() is false")
PY
}

# --- 2. unpack the .debs --------------------------------------------------------
# python3 stand-in for `dpkg -x` (an ar archive holding data.tar.*).
deb_x_py() {
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not a .deb (ar) archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
            kw = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
            t.extractall(dest, **kw)
        break
else:
    sys.exit(deb + ": no data.tar member")
PY
}

unpack() {
  local stamp d f so n=0
  stamp=$(ls -l .gpu-debs/core .gpu-debs/closure | md5sum | cut -c1-32)
  if [[ -f $P/.stamp && $(cat "$P/.stamp") == "$stamp"-${GPU_FALLBACK_ALL:-0} ]]; then
    echo "prefix $P already holds this set of .debs"
    return 0
  fi
  rm -rf "$P" && mkdir -p "$P/closure-root" "$P/fallback" || return 1
  for d in .gpu-debs/core/*.deb .gpu-debs/closure/*.deb; do
    local dest=$P
    [[ $d == .gpu-debs/closure/* ]] && dest=$P/closure-root
    if [[ ${GPU_NO_DPKG:-0} != 1 ]] && command -v dpkg >/dev/null; then
      dpkg -x "$d" "$dest" || { echo "dpkg -x $d failed"; return 1; }
    else
      deb_x_py "$d" "$dest" || { echo "unpacking $d with python failed"; return 1; }
    fi
    n=$((n + 1))
  done
  echo "unpacked $n .debs into $P ($(du -sm "$P" | cut -f1) MB)"
  local L=$P/usr/lib/x86_64-linux-gnu
  # zlib1g-dev's libz.so is an absolute link to Debian's libz.so.1.2.13:
  # point it at this machine's libz.so.1.
  local z
  z=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libz.so.1" && /x86-64/ {print $NF; exit}')
  [[ -n $z ]] || z=$(ls /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 /usr/lib64/libz.so.1 2>/dev/null | head -1)
  if [[ -n $z ]]; then ln -sfn "$z" "$L/libz.so"; echo "libz.so -> $z"; else echo "WARNING: no libz.so.1 on this machine"; fi
  # Debian picks libpsm_infinipath.so.1 with update-alternatives (libfabric NEEDs it).
  f=$(ls "$P"/usr/lib/libpsm1/libpsm_infinipath.so.1.* 2>/dev/null | head -1)
  [[ -n $f ]] && ln -sfn "$f" "$L/libpsm_infinipath.so.1"
  # libcurl's dependencies: only the sonames this machine lacks, so that its
  # own copies are never shadowed.
  while IFS= read -r f; do
    so=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    [[ -n $so ]] || continue
    if [[ ${GPU_FALLBACK_ALL:-0} == 1 ]] || ! /sbin/ldconfig -p 2>/dev/null | grep -q "^[[:space:]]$so "; then
      ln -sfn "$f" "$P/fallback/$so" && echo "carried: $so"
    else
      echo "system has: $so"
    fi
  done < <(find "$P/closure-root" -type f -name 'lib*.so.*' | sort)
  echo "$stamp-${GPU_FALLBACK_ALL:-0}" >"$P/.stamp"
}

# --- 3. GoogleTest -------------------------------------------------------------
# The packaged libgtest.a was built by Debian's g++ 12; check that it links and
# runs with this g++, else build GoogleTest from the packaged sources.
gtest_check() {
  local d=$P/gtest-check
  mkdir -p "$d"
  GTEST_DIR=$P/usr/lib/x86_64-linux-gnu/cmake/GTest
  printf '#include <gtest/gtest.h>\nTEST(Carried, Works) { EXPECT_EQ(2, 1 + 1); }\n' >"$d/t.cpp"
  if [[ ${GPU_BUILD_GTEST:-0} != 1 ]] &&
    g++ -std=c++17 -isystem "$P/usr/include" "$d/t.cpp" "$P/usr/lib/x86_64-linux-gnu/libgtest_main.a" \
      "$P/usr/lib/x86_64-linux-gnu/libgtest.a" -pthread -o "$d/t" && "$d/t"; then
    echo "GTEST_DIR=$GTEST_DIR"
    return 0
  fi
  echo "packaged libgtest.a unusable here (or GPU_BUILD_GTEST=1): building it from $P/usr/src/googletest"
  cmake -S "$P/usr/src/googletest" -B "$P/gtest-build" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
    -DCMAKE_INSTALL_PREFIX="$P/gtest" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POLICY_VERSION_MINIMUM=3.5 &&
    cmake --build "$P/gtest-build" -j"$JOBS" && cmake --install "$P/gtest-build" || return 1
  g++ -std=c++17 -isystem "$P/gtest/include" "$d/t.cpp" "$P/gtest/lib/libgtest_main.a" "$P/gtest/lib/libgtest.a" \
    -pthread -o "$d/t" && "$d/t" || return 1
  echo "GTEST_DIR=$P/gtest/lib/cmake/GTest"
}

# --- 4. configure ----------------------------------------------------------------
configure() {
  local gen=() prefix="$P/usr"
  command -v ninja >/dev/null && gen=(-G Ninja)
  [[ -n ${TORCH_PREFIX:-} ]] && prefix="$TORCH_PREFIX;$P/usr"
  local extra=()
  # Here the host's own h5pcc would be found otherwise (it is hidden in the dry
  # run, but CMake also looks in /usr/bin by name).
  [[ $DRY == 1 ]] && extra+=(-DCMAKE_IGNORE_PATH=/usr/bin)
  # A stale cache from another machine or prefix would mislead: start afresh
  # when the prefix in it differs.
  if [[ -f $B/CMakeCache.txt ]] && ! grep -qF "$prefix" "$B/CMakeCache.txt"; then rm -rf "$B"; fi
  cmake -S . -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DMPI_C_COMPILER="$P/usr/bin/mpicc.openmpi" -DMPI_CXX_COMPILER="$P/usr/bin/mpicxx.openmpi" \
    -DMPIEXEC_EXECUTABLE="$P/usr/bin/mpiexec.openmpi" \
    -DHDF5_C_INCLUDE_DIR="$P/usr/include/hdf5/openmpi" \
    -DHDF5_hdf5_LIBRARY_RELEASE="$P/usr/lib/x86_64-linux-gnu/hdf5/openmpi/libhdf5.so" \
    -DGTest_DIR="$GTEST_DIR" \
    -DSTIFFNESS_NCCL=ON -DNCCL_ROOT="$NCCL_ROOT" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DSTIFFNESS_TESTS=ON -DSTIFFNESS_BENCH=ON -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "${extra[@]}"
}

# Path of a built target's file (executable or library), newest first.
target_file() {
  find "$B" -path "$B/CMakeFiles" -prune -o -type f \( -name "$1" -o -name "lib$1.a" -o -name "lib$1.so" \) \
    -newer "$B/.build-start" -print 2>/dev/null | head -1
}

# --- 5. the train comparison -------------------------------------------------
# Largest |value| of a dataset, from h5dump's text.
h5_maxabs() {
  h5dump -m %.10g -y -w 0 -d "$2" "$1" | awk '/DATA \{/ {d = 1; next} d && /^ *\}/ {d = 0}
    d { gsub(/[,()]/, " "); for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9.]/) { v = $i + 0; if (v < 0) v = -v; if (v > m) m = v } }
    END { printf "%.6g\n", m + 0 }'
}
# Largest |a - b| over two same-shaped datasets of two files.
h5_maxdiff() {
  paste <(h5dump -m %.10g -y -w 0 -d "$3" "$1" | tr ', ' '\n\n' | grep -E '^-?[0-9.]') \
    <(h5dump -m %.10g -y -w 0 -d "$3" "$2" | tr ', ' '\n\n' | grep -E '^-?[0-9.]') |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g\n", m + 0 }'
}
# compare_h5 A B: h5diff of the datasets that hold results (not timings or
# provenance): the sample, the steps, and per measurement K (absolute tolerance
# GPU_K_RTOL x its largest entry), the class cosine matrices (GPU_COS_ATOL) and
# the pair counts (exact). Prints the largest differences found.
compare_h5() {
  local a=$1 b=$2 bad=0 g s tol mx d worst=0 out
  for s in /sample/index /sample/label /sample/split /steps; do
    h5diff "$a" "$b" "$s" "$s" >/dev/null || { echo "DIFFERS: $s"; bad=1; }
  done
  local groups
  groups=$(h5ls "$a/measurements" | awk '{print $1}')
  [[ -n $groups ]] || { echo "no measurements in $a"; return 1; }
  for g in $groups; do
    mx=$(h5_maxabs "$a" "/measurements/$g/K")
    tol=$(awk -v m="$mx" -v r="${GPU_K_RTOL:-1e-3}" 'BEGIN { printf "%.6g", m * r }')
    d=$(h5_maxdiff "$a" "$b" "/measurements/$g/K")
    echo "measurement $g: K max |entry| $mx, max |a - b| $d (relative $(awk -v d="$d" -v m="$mx" 'BEGIN { printf "%.3g", d / m }')), tolerance $tol"
    worst=$(awk -v d="$d" -v m="$mx" -v w="$worst" 'BEGIN { r = d / m; print (r > w ? r : w) }')
    if ! out=$(h5diff -d "$tol" "$a" "$b" "/measurements/$g/K" "/measurements/$g/K" 2>&1); then
      tail -2 <<<"$out"
      echo "DIFFERS: $g/K"
      bad=1
    fi
    for s in train_train train_val val_val; do
      h5diff -d "${GPU_COS_ATOL:-1e-3}" "$a" "$b" "/measurements/$g/class_stiffness/$s/cosine" \
        "/measurements/$g/class_stiffness/$s/cosine" >/dev/null || { echo "DIFFERS: $g/class_stiffness/$s/cosine"; bad=1; }
      h5diff "$a" "$b" "/measurements/$g/class_stiffness/$s/pairs" "/measurements/$g/class_stiffness/$s/pairs" \
        >/dev/null || { echo "DIFFERS: $g/class_stiffness/$s/pairs"; bad=1; }
    done
  done
  echo "WORST_K_REL=$worst"
  return $bad
}

train_args() {  # MODEL DEVICE OUTPUT [LR]
  local size=8
  [[ $1 == cnn ]] && size=16
  local a=(train --data-format synthetic --dataset gpu-check --model "$1" --synthetic-size "$size"
    --synthetic-train-per-class 100 --synthetic-val-per-class 20 --per-class 20 --val-per-class 10
    --optimizer sgd --lr "${4:-0.01}" --momentum 0 --batch-size 32 --steps 30 --measure-steps "0,10,30" --measure-log 0
    --eval-examples 200 --distance-bins 10 --save-params false --progress-seconds 1000 --seed 1
    --output "$3" --overwrite)
  [[ $1 == mlp ]] && a+=(--widths "128,64")
  [[ -n $2 ]] && a+=(--device "$2")
  printf '%s\n' "${a[@]}"
}
