#!/usr/bin/env bash
# The GPU check: one script that builds `stiffness` on a GPU machine that has
# no Debian packages, runs every GPU test and the GPU benchmark beside a
# PyTorch peer, and ends on a PASS/FAIL table (docs/gpu.md).
#
#   bash tests/gpu/fetch-debs.sh          # on the Debian machine: .gpu-debs/
#   OUT=/some/dir bash tests/gpu/run.sh   # on the GPU machine (OUT default ./gpu-out)
#   bash tests/gpu/run.sh --dry-run       # on the Debian machine, no GPU (or GPU_CHECK_DRY=1)
#
# Everything it writes goes under $OUT: logs/, versions.txt, results.tsv (one
# line per check, written as it goes), bench.jsonl, peer.jsonl, the train
# outputs, summary.txt and benchmarks-gpu.md. Every step runs under `timeout`,
# and all of them together within GPU_BUDGET_S seconds (default 480): a step
# that would start after that is reported SKIP, so the script never hangs and
# always ends on the table. Exit status 0 only when no check failed.
#
# Steps: versions; unpack .gpu-debs into .gpu-prefix/ with `dpkg -x` (never
# into /); GoogleTest check; configure build-gpu/ against the prefix, pip torch
# (torch.utils.cmake_prefix_path) and the nvidia-nccl wheel; build only
# stiffness unit_gpu gpu_check mpi_nn stiffness_bench (a missing target is
# reported, the others are built) while the peer (peer_torchfunc.py) runs on
# the idle GPU, pinned to two other cores; then unit_gpu on 1 and 2 ranks,
# gpu_check, a short train on cuda and on cpu compared with h5diff, the
# benchmark, mpi_nn on 1 and 2 ranks with STIFFNESS_TEST_DEVICE=cuda.
#
# The dry run does what needs no GPU: in a private mount namespace that hides
# this machine's Open MPI, HDF5, Boost, spdlog, fmt, zlib headers and
# GoogleTest (tests/gpu/hide-system.sh), it unpacks the same .debs, configures
# with Debian's CPU LibTorch and NCCL from /usr/local/cuda, builds
# stiffness_config unit_io mpi_io (plus GPU_DRY_TARGETS, e.g. "stiffness"),
# checks with ldd that the libraries come from the prefix, and runs unit_io
# and mpi_io on 2 ranks through the prefix's mpiexec (and, when stiffness was
# built, the train + h5diff comparison on cpu twice).
#
# Knobs (environment): OUT, GPU_BUDGET_S, GPU_JOBS (build jobs, default nproc),
# GPU_K_RTOL (1e-3: K difference relative to its largest entry), GPU_COS_ATOL
# (1e-3: class cosine matrices), GPU_DRY_TARGETS, GPU_BUILD_GTEST=1 (build
# GoogleTest from source even if the packaged static libraries work),
# GPU_FALLBACK_ALL=1 (use every carried libcurl dependency, not only the
# missing ones), GPU_NO_DPKG=1 (unpack with python even if dpkg exists).
set -uo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
cd "$ROOT" || exit 2
DRY=${GPU_CHECK_DRY:-0}
INSIDE=0
for a in "$@"; do
  case $a in
    --dry-run) DRY=1 ;;
    --inside-namespace) INSIDE=1 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tests/gpu/run.sh: unknown argument '$a', expected --dry-run or --help" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$ROOT/gpu-out}
rm -rf "$OUT/logs"
mkdir -p "$OUT/logs" || { echo "tests/gpu/run.sh: cannot create OUT='$OUT'" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
export OUT GPU_CHECK_DRY=$DRY

# The dry run re-executes itself with the system's copies hidden.
if [[ $DRY == 1 && $INSIDE == 0 ]]; then
  command -v unshare >/dev/null || { echo "tests/gpu/run.sh: --dry-run needs unshare (util-linux)" >&2; exit 2; }
  export TMPDIR="$OUT/tmp"
  mkdir -p "$TMPDIR"
  exec unshare -m --propagation private bash "$ROOT/tests/gpu/hide-system.sh" \
    bash "$ROOT/tests/gpu/run.sh" --dry-run --inside-namespace
fi

T0=$(date +%s)
BUDGET=${GPU_BUDGET_S:-480}
JOBS=${GPU_JOBS:-$(nproc)}
P=$ROOT/.gpu-prefix
if [[ $DRY == 1 ]]; then B=$ROOT/build-gpu-dry; else B=$ROOT/build-gpu; fi
RESULTS=$OUT/results.tsv
: >"$RESULTS"
STEPNO=0
PEER_PID=""
export LC_ALL=C

# --- bookkeeping ------------------------------------------------------------
record() {  # NAME STATUS SECONDS DETAIL
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >>"$RESULTS"
  printf '[%4ds] %-28s %-7s %s\n' "$(($(date +%s) - T0))" "$1" "$2" "$4"
}
left() { echo $((BUDGET - ($(date +%s) - T0))); }
logfile() {  # NAME: sets LOGF to the path of a new numbered log
  STEPNO=$((STEPNO + 1))
  printf -v LOGF '%s/logs/%02d-%s.log' "$OUT" "$STEPNO" "${1//[^A-Za-z0-9_.-]/_}"
}
# step NAME LIMIT CMD...: runs CMD under timeout (LIMIT, cut to what is left
# of the budget less 20 s for the end), output to a numbered log. Sets
# STEP_LOG and STEP_RC; then calls the function named in STEP_POST (if any),
# which may change STEP_RC and STEP_DETAIL from the log; then records
# PASS/FAIL/TIMEOUT with STEP_DETAIL, unless NORECORD=1.
step() {
  local name=$1 limit=$2 l t
  shift 2
  logfile "$name"
  STEP_LOG=$LOGF
  l=$(($(left) - 20))
  if ((l < 5)); then
    STEP_RC=125
    record "$name" SKIP 0 "time budget (${BUDGET}s) spent"
    return 125
  fi
  ((limit > l)) && limit=$l
  t=$(date +%s)
  # The command, without the bodies of the functions it may carry.
  printf '+ %s\n' "$(printf '%s ' "$@" | tr '\n' ' ' | sed -E 's/\(\) *\{.*\}; /() {...}; /' | cut -c1-400)" >"$STEP_LOG"
  timeout -k 5 "$limit" "$@" >>"$STEP_LOG" 2>&1
  STEP_RC=$?
  STEP_SECONDS=$(($(date +%s) - t))
  [[ -n ${STEP_POST:-} ]] && "$STEP_POST"
  [[ ${NORECORD:-0} == 1 ]] && return $STEP_RC
  case $STEP_RC in
    0) record "$name" PASS "$STEP_SECONDS" "${STEP_DETAIL:-}" ;;
    124 | 137) record "$name" TIMEOUT "$STEP_SECONDS" "killed after ${limit}s; ${STEP_LOG#"$OUT"/}" ;;
    *) record "$name" FAIL "$STEP_SECONDS" "exit $STEP_RC; ${STEP_LOG#"$OUT"/}: ${STEP_DETAIL:-$(grep -v '^+ ' "$STEP_LOG" | grep -m1 -iE 'error|fail|not found|abort' | cut -c1-90)}" ;;
  esac
  STEP_DETAIL=""
  return $STEP_RC
}

# The steps themselves (versions, unpack, gtest, configure, the h5 comparison).
# shellcheck source=tests/gpu/steps.sh
source "$ROOT/tests/gpu/steps.sh"

compare_post() {
  STEP_DETAIL="K within ${GPU_K_RTOL:-1e-3} of its max, cosines ${GPU_COS_ATOL:-1e-3}: worst K diff $(sed -n 's/^WORST_K_REL=//p' "$STEP_LOG") of max"
  [[ $STEP_RC == 0 ]] || STEP_DETAIL="$STEP_DETAIL; $(grep -m1 '^DIFFERS' "$STEP_LOG")"
}
bench_post() {
  local line
  line=$(grep -m1 '^{' "$STEP_LOG")
  [[ -n $line ]] && echo "$line" >>"$OUT/bench.jsonl"
  if [[ $STEP_RC == 0 ]] && ! grep -q '"seconds"' <<<"$line"; then
    STEP_RC=1
    STEP_DETAIL="no timing in its JSON line: $(cut -c1-70 <<<"$line")"
  else
    STEP_DETAIL=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("%.3f s, rel err %s" % (j["seconds"], j.get("rel_err_vs_loop")))' "$line" 2>/dev/null)
  fi
}

# --- summary --------------------------------------------------------------------
finish() {
  trap - EXIT INT TERM
  if [[ -n $PEER_PID ]] && kill -0 "$PEER_PID" 2>/dev/null; then
    kill -- "-$PEER_PID" 2>/dev/null || kill "$PEER_PID" 2>/dev/null
    record peer KILLED "" "still running at the end"
  fi
  python3 "$ROOT/tests/gpu/report.py" "$OUT" >"$OUT/benchmarks-gpu.md" 2>"$OUT/logs/report.err" ||
    echo "(report.py failed: see logs/report.err)" >>"$OUT/benchmarks-gpu.md"
  {
    echo
    echo "== GPU check summary ($([[ $DRY == 1 ]] && echo "DRY RUN, no GPU" || echo "GPU run"), $(($(date +%s) - T0)) s of ${BUDGET} s, $(date -u +%FT%TZ)) =="
    grep -E '^(torch|cuda device|nvidia-smi|g\+\+|glibc|cmake):' "$OUT/versions.txt" 2>/dev/null | cut -c1-110
    printf '%-28s %-7s %6s  %s\n' CHECK STATUS SECONDS DETAIL
    awk -F'\t' '{ printf "%-28s %-7s %6s  %s\n", $1, $2, $3, substr($4, 1, 100) }' "$RESULTS"
    local np nf
    np=$(awk -F'\t' '$2 == "PASS"' "$RESULTS" | wc -l)
    nf=$(awk -F'\t' '$2 != "PASS" && $2 != "SKIP"' "$RESULTS" | wc -l)
    echo "$np passed, $nf failed, $(awk -F'\t' '$2 == "SKIP"' "$RESULTS" | wc -l) skipped   (logs and results: $OUT; benchmark table: benchmarks-gpu.md)"
  } | tee "$OUT/summary.txt"
  if awk -F'\t' '$2 != "PASS" && $2 != "SKIP" {f = 1} END {exit !f}' "$RESULTS" || ! grep -q PASS "$RESULTS"; then
    exit 1
  fi
  exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

echo "tests/gpu/run.sh: OUT=$OUT, budget ${BUDGET}s, $JOBS build jobs, dry run: $DRY"

# 1. versions
STEP_DETAIL="versions.txt"
step versions 60 bash -c "$(declare -f versions); DRY=$DRY; versions"
cp "$STEP_LOG" "$OUT/versions.txt"
STEP_DETAIL=""
TORCH_PREFIX=$(sed -n 's/^TORCH_PREFIX=//p' "$OUT/versions.txt")
NCCL_ROOT=$(sed -n 's/^NCCL_ROOT=//p' "$OUT/versions.txt")
stream=$(sed -n 's/^DEFAULT_STREAM=//p' "$OUT/versions.txt")
if [[ $DRY == 1 ]]; then
  TORCH_PREFIX=""  # Debian's CPU LibTorch, found in /usr
  NCCL_ROOT=/usr/local/cuda
else
  abi=$(sed -n 's/.*compiled_with_cxx11_abi: \([A-Za-z]*\).*/\1/p' "$OUT/versions.txt")
  if [[ -z $TORCH_PREFIX ]]; then record torch FAIL 0 "python3 cannot import torch (versions.txt)"
  elif [[ $abi != True ]]; then record torch FAIL 0 "torch.compiled_with_cxx11_abi() is '$abi': Debian's libraries need the cxx11 ABI"
  else record torch PASS 0 "$(grep -m1 '^torch:' "$OUT/versions.txt" | cut -c8-80)"; fi
  [[ -n $NCCL_ROOT ]] || record nccl-wheel FAIL 0 "python3 cannot import nvidia.nccl (versions.txt)"
  if [[ $stream == 0 ]]; then record torch-default-stream PASS 0 "torch.cuda.current_stream().cuda_stream == 0"
  else record torch-default-stream FAIL 0 "cuda_stream is '${stream:-unknown}', not the legacy default stream 0"; fi
  command -v nvcc >/dev/null || { [[ -x /usr/local/cuda/bin/nvcc ]] && export PATH=$PATH:/usr/local/cuda/bin; }
fi

# The peer runs on the idle GPU from now until the build is done, pinned to two
# cores that the build leaves alone.
PIN_BUILD=()
if [[ $DRY == 0 && -n $TORCH_PREFIX && -n $stream ]]; then
  logfile peer
  PEER_LOG=$LOGF
  PIN_PEER=()
  if command -v taskset >/dev/null && ((JOBS >= 8)); then
    PIN_PEER=(taskset -c "0,1")
    PIN_BUILD=(taskset -c "2-$(($(nproc) - 1))")
    JOBS=$((JOBS - 2))
  fi
  PEER_T0=$(date +%s)
  setsid timeout -k 5 "${GPU_PEER_LIMIT:-300}" "${PIN_PEER[@]}" python3 tests/gpu/peer_torchfunc.py \
    --case mlp:20000 --case cnn:5000 --case resnet20:5000 --repeat 2 >"$OUT/peer.jsonl" 2>"$PEER_LOG" &
  PEER_PID=$!
fi

# 2. unpack
if [[ ! -d .gpu-debs/core ]]; then
  record unpack FAIL 0 ".gpu-debs/core missing: run tests/gpu/fetch-debs.sh on the Debian machine and carry .gpu-debs"
  exit 1
fi
export P GPU_FALLBACK_ALL GPU_NO_DPKG
STEP_DETAIL="into .gpu-prefix"
unpack_post() {
  if grep -q '^prefix .* already holds' "$STEP_LOG"; then STEP_DETAIL="reused .gpu-prefix"
  else STEP_DETAIL="libcurl deps carried: $(grep -c '^carried:' "$STEP_LOG"), the machine's own: $(grep -c '^system has:' "$STEP_LOG")"; fi
}
STEP_POST=unpack_post step unpack 120 bash -c "$(declare -f deb_x_py unpack); unpack" || exit 1

# The environment of gpu-notes §4, for our commands only (LD_LIBRARY_PATH is
# passed per command, never exported: it would shadow the machine's libcurl
# and libssl for everything else).
L=$P/usr/lib/x86_64-linux-gnu
LIBS=$L:$L/openmpi/lib:$L/hdf5/openmpi:$P/lib/x86_64-linux-gnu:$P/fallback
[[ -n $NCCL_ROOT && -d $NCCL_ROOT/lib ]] && LIBS=$LIBS:$NCCL_ROOT/lib
export OPAL_PREFIX=$P/usr
export PMIX_MCA_mca_base_component_path=$L/pmix2/lib/pmix
export OMPI_MCA_plm_rsh_agent=false OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
export PATH=$PATH:$P/usr/bin
WL=(env "LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
MPIEXEC=("${WL[@]}" "$P/usr/bin/mpiexec.openmpi" --bind-to none)

# 3. GoogleTest
export JOBS
gtest_post() {
  if ((STEP_RC != 0)); then return
  elif grep -q '^packaged libgtest.a unusable' "$STEP_LOG"; then STEP_DETAIL="built from the packaged sources"
  else STEP_DETAIL="packaged static libraries link and run"; fi
}
STEP_POST=gtest_post step gtest 180 "${WL[@]}" bash -c "$(declare -f gtest_check); gtest_check" || exit 1
GTEST_DIR=$(sed -n 's/^GTEST_DIR=//p' "$STEP_LOG" | tail -1)

# 4. configure
export B DRY TORCH_PREFIX NCCL_ROOT GTEST_DIR
STEP_DETAIL="$B"
step configure 240 "${WL[@]}" bash -c "$(declare -f configure); configure" || exit 1
STEP_DETAIL=""

# 5. build (the peer may still be running on the GPU)
if [[ $DRY == 1 ]]; then
  read -r -a WANT <<<"stiffness_config unit_io mpi_io unit_gpu ${GPU_DRY_TARGETS:-}"
else
  read -r -a WANT <<<"${GPU_TARGETS:-stiffness unit_gpu gpu_check mpi_nn stiffness_bench}"
fi
# Which targets exist: ninja -t query (or make -n) fails on an unknown one.
target_exists() {
  if [[ -f $B/build.ninja ]]; then ninja -C "$B" -t query "$1"; else make -C "$B" -n "$1"; fi >/dev/null 2>&1
}
TARGETS=()
for t in "${WANT[@]}"; do
  if target_exists "$t"; then TARGETS+=("$t")
  else record "build:$t" FAIL 0 "no such CMake target (not written yet?)"; fi
done
if ((${#TARGETS[@]} > 0)); then
  # Remove the targets' old files: a file found afterwards was built by this
  # run (relinking an up-to-date target takes seconds).
  for t in "${TARGETS[@]}"; do
    find "$B" -path "$B/CMakeFiles" -prune -o -type f \( -name "$t" -o -name "lib$t.a" -o -name "lib$t.so" \) \
      -print 2>/dev/null | xargs -r rm -f
  done
  touch "$B/.build-start"
  keep=(-k)
  [[ -f $B/build.ninja ]] && keep=(-k 0)
  STEP_DETAIL="${TARGETS[*]}"
  NORECORD=1 step build "${GPU_BUILD_LIMIT:-330}" "${WL[@]}" "${PIN_BUILD[@]}" cmake --build "$B" \
    --target "${TARGETS[@]}" -j"$JOBS" -- "${keep[@]}"
  brc=$STEP_RC
  for t in "${TARGETS[@]}"; do
    f=$(target_file "$t")
    if [[ -n $f ]]; then record "build:$t" PASS "$STEP_SECONDS" "${f#"$ROOT"/}"
    elif ((brc == 124 || brc == 137)); then record "build:$t" TIMEOUT "$STEP_SECONDS" "build killed; ${STEP_LOG#"$OUT"/}"
    else record "build:$t" FAIL "$STEP_SECONDS" "not built; ${STEP_LOG#"$OUT"/}: $(grep -m1 -E 'error|FAILED' "$STEP_LOG" | cut -c1-80)"; fi
  done
  STEP_DETAIL=""
fi
bin() { target_file "$1"; }

# ldd: our libraries must come from the prefix (or the machine), none missing.
STIFF=$(bin stiffness)
for t in stiffness unit_io mpi_io unit_gpu; do
  f=$(bin $t)
  [[ -n $f ]] || continue
  logfile "ldd-$t"
  lddlog=$LOGF
  "${WL[@]}" ldd "$f" >"$lddlog" 2>&1
  bad=$(grep -c 'not found' "$lddlog")
  wrong=$(grep -E 'lib(mpi|open-pal|open-rte|hdf5|boost_program_options|spdlog|fmt|pmix|hwloc|event)' "$lddlog" |
    grep -vc -- "=> $P/")
  if ((bad == 0 && wrong == 0)); then
    record "ldd:$t" PASS 0 "MPI/HDF5/Boost/spdlog/fmt from .gpu-prefix ($(grep -c -- "=> $P/" "$lddlog") libs, $(grep -c -- "=> $P/fallback/" "$lddlog") of them libcurl deps), nothing missing"
  else
    record "ldd:$t" FAIL 0 "$bad not found, $wrong of ours not from the prefix: ${lddlog#"$OUT"/}"
  fi
done

# Wait for the peer before anything else uses the GPU.
if [[ -n $PEER_PID ]]; then
  l=$(($(left) - 20))
  while kill -0 "$PEER_PID" 2>/dev/null && ((l > 0)); do sleep 1; l=$((l - 1)); done
  if kill -0 "$PEER_PID" 2>/dev/null; then
    kill -- "-$PEER_PID" 2>/dev/null
    record peer TIMEOUT $(($(date +%s) - PEER_T0)) "killed at the end of the budget; ${PEER_LOG#"$OUT"/}"
  else
    wait "$PEER_PID"
    prc=$?
    ok=$(grep -c '"seconds"' "$OUT/peer.jsonl")
    if ((prc == 0 && ok == 3)); then record peer PASS $(($(date +%s) - PEER_T0)) "3 cases in peer.jsonl"
    else record peer FAIL $(($(date +%s) - PEER_T0)) "exit $prc, $ok of 3 cases; ${PEER_LOG#"$OUT"/}"; fi
  fi
  PEER_PID=""
fi

if [[ $DRY == 1 ]]; then
  # The CPU-only checks of the carried stack.
  f=$(bin unit_io)
  [[ -n $f ]] && step unit_io 120 env STIFFNESS_TEST_TMP="$OUT/tmp/unit_io" "${WL[@]}" "$f"
  f=$(bin mpi_io)
  [[ -n $f ]] && step "mpi_io -n 2" 120 env STIFFNESS_TEST_TMP="$OUT/tmp/mpi_io" "${MPIEXEC[@]}" -n 2 "$f"
  # The NCCL backend built against the prefix's MPI: its no-GPU path.
  f=$(bin unit_gpu)
  if [[ -n $f ]]; then
    step "unit_gpu -n 1 (no GPU)" 60 "${MPIEXEC[@]}" -n 1 "$f"
    step "unit_gpu -n 2 (no GPU)" 60 "${MPIEXEC[@]}" -n 2 "$f"
  fi
  # The per-rank NCCL_HOSTID wrapper of the 2-rank GPU runs.
  rank_env_post() {
    local ids
    ids=$(grep -E '^fake[0-9]+ lo 1$' "$STEP_LOG" | sort | tr '\n' ' ')
    STEP_DETAIL="NCCL_HOSTID NCCL_SOCKET_IFNAME NCCL_IB_DISABLE per rank: $ids"
    [[ $ids == "fake0 lo 1 fake1 lo 1 " ]] || STEP_RC=1
  }
  STEP_POST=rank_env_post step "rank-env.sh -n 2" 60 "${MPIEXEC[@]}" -n 2 sh "$ROOT/tests/gpu/rank-env.sh" \
    sh -c 'echo "$NCCL_HOSTID $NCCL_SOCKET_IFNAME $NCCL_IB_DISABLE"'
  if [[ -n $STIFF ]]; then
    for m in ${GPU_DRY_MODELS:-mlp}; do
      mapfile -t A < <(train_args $m "" "$OUT/train-$m-a.h5")
      step "train $m (cpu, 1st)" 180 "${MPIEXEC[@]}" -n 1 "$STIFF" "${A[@]}"
      mapfile -t A < <(train_args $m "" "$OUT/train-$m-b.h5")
      step "train $m (cpu, 2nd)" 180 "${MPIEXEC[@]}" -n 2 "$STIFF" "${A[@]}"
      STEP_POST=compare_post step "h5diff $m 1 vs 2 ranks" 60 "${WL[@]}" bash -c \
        "$(declare -f h5_maxabs h5_maxdiff compare_h5); compare_h5 '$OUT/train-$m-a.h5' '$OUT/train-$m-b.h5'"
      # The comparison must be able to fail: another learning rate gives
      # another trajectory (same sample, same steps).
      mapfile -t A < <(train_args $m "" "$OUT/train-$m-c.h5" 0.05)
      step "train $m (cpu, other lr)" 180 "${MPIEXEC[@]}" -n 1 "$STIFF" "${A[@]}"
      negative_post() {
        if ((STEP_RC == 1)) && grep -q '^DIFFERS: 00000[12]/K' "$STEP_LOG"; then
          STEP_RC=0
          STEP_DETAIL="differences found, as they must be: $(grep -m1 '^DIFFERS' "$STEP_LOG")"
        else
          STEP_RC=1
          STEP_DETAIL="a run with another learning rate was not reported different"
        fi
      }
      STEP_POST=negative_post step "h5diff $m finds a change" 60 "${WL[@]}" bash -c \
        "$(declare -f h5_maxabs h5_maxdiff compare_h5); compare_h5 '$OUT/train-$m-a.h5' '$OUT/train-$m-c.h5'"
    done
  fi
  for c in unit_gpu gpu_check "mpi_nn (cuda)" "train cuda vs cpu" bench; do record "$c" SKIP 0 "dry run: needs a GPU"; done
  exit 0
fi

# 6. the GPU tests
RANK2=("${MPIEXEC[@]}" -n 2 sh "$ROOT/tests/gpu/rank-env.sh")
f=$(bin unit_gpu)
if [[ -n $f ]]; then
  step "unit_gpu -n 1" 60 "${MPIEXEC[@]}" -n 1 "$f"
  step "unit_gpu -n 2 (1 GPU)" 90 env NCCL_DEBUG=INFO "${RANK2[@]}" "$f"
fi
f=$(bin gpu_check)
[[ -n $f ]] && step gpu_check 120 "${MPIEXEC[@]}" -n 1 "$f"

# 7. a short train on cuda and on cpu, compared
if [[ -n $STIFF ]]; then
  for m in mlp cnn; do
    for dev in cuda cpu; do
      mapfile -t A < <(train_args $m $dev "$OUT/train-$m-$dev.h5")
      step "train $m --device $dev" 120 "${MPIEXEC[@]}" -n 1 "$STIFF" "${A[@]}"
    done
    if [[ -f $OUT/train-$m-cuda.h5 && -f $OUT/train-$m-cpu.h5 ]]; then
      STEP_POST=compare_post step "h5diff $m cuda vs cpu" 60 "${WL[@]}" bash -c \
        "$(declare -f h5_maxabs h5_maxdiff compare_h5); compare_h5 '$OUT/train-$m-cpu.h5' '$OUT/train-$m-cuda.h5'"
    fi
  done
fi

# 8. the benchmark (one JSON line per case)
f=$(bin stiffness_bench)
: >"$OUT/bench.jsonl"
if [[ -n $f ]]; then
  for c in "mlp 20000" "cnn 5000" "resnet20 5000"; do
    read -r m n <<<"$c"
    # --mem-gb/--max-tflop: the CPU defaults (8 GB, 3 TFLOP) would skip
    # the ResNet20 case on a 141 GB, ~50 TFLOP/s device.
    STEP_POST=bench_post step "bench $m N=$n" 150 "${MPIEXEC[@]}" -n 1 "$f" --device cuda --model "$m" --n "$n" \
      --method auto --repeat 2 --mem-gb 100 --max-tflop 1000
  done
fi

# 9. the MPI tests with the ring on the device
f=$(bin mpi_nn)
if [[ -n $f ]]; then
  step "mpi_nn -n 1 (cuda)" 120 env STIFFNESS_TEST_DEVICE=cuda "${MPIEXEC[@]}" -n 1 "$f"
  step "mpi_nn -n 2 (cuda, 1 GPU)" 150 env STIFFNESS_TEST_DEVICE=cuda "${RANK2[@]}" "$f"
fi
exit 0
