#!/usr/bin/env bash
# Installs everything `stiffness` needs to build, test and run on Debian 12
# (bookworm), as root. Idempotent: installs only what is missing, and runs
# `apt-get update` only when something has to be installed, so a second run on
# a ready machine touches nothing and needs no network.
set -euo pipefail

# Never stop at an interactive debconf question (tzdata, etc.).
export DEBIAN_FRONTEND=noninteractive

# All from Debian 12's main archive (each checked with `apt-cache policy`).
PACKAGES=(
  # Compiler, build system, and the git hash recorded in every output file.
  build-essential cmake git pkg-config
  # LibTorch (CPU build) for models and per-example gradients.
  libtorch-dev
  # A multithreaded BLAS under LibTorch; Debian's reference BLAS is far slower.
  libopenblas0-pthread libopenblas-dev
  # MPI across ranks, and HDF5 built against that MPI for collective writes.
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  # Command line, gzip-compressed data files, logging.
  libboost-program-options-dev zlib1g-dev libspdlog-dev libfmt-dev
  # The JSON header of safetensors weight files (checkpoints to measure).
  nlohmann-json3-dev
  # Tests and the benchmark.
  libgtest-dev libgmock-dev libbenchmark-dev
  # The data set (installs /usr/share/datasets/fashion-mnist/*.gz).
  dataset-fashion-mnist
  # Reading and plotting results (the system python3, not a virtualenv).
  python3-h5py python3-numpy python3-matplotlib python3-pandas
  # Tests check the model families against code nobody here wrote:
  # torchvision's ResNets and torch.nn modules, with torch autograd (1.13).
  python3-torchvision
  # The slurm/ scripts and their tests on a real single-node Slurm: the
  # daemons and clients, munge for authentication, and the unversioned
  # libpmix.so that `srun --mpi=pmix` loads (Debian's Open MPI speaks PMIx only).
  slurm-wlm munge libpmix-dev
  # The test of the aggregate's index.html renders it in a real headless browser.
  chromium
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: must run as root (it calls apt-get and update-alternatives)" >&2
  exit 1
fi

# dpkg-query prints "install ok installed" only for a fully installed package;
# unknown packages make it fail, which counts as missing.
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ $status != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  # The package lists of a fresh image are empty or stale: refresh them first.
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# LibTorch calls BLAS through libblas.so.3, which Debian resolves through the
# alternatives system. Make sure it is OpenBLAS (pthread flavour), not the
# reference BLAS, whatever was installed before or alongside.
alt=libblas.so.3-x86_64-linux-gnu
want=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
blas_changed=""
current=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/ {print $2}')
if [[ $current != "$want" ]]; then
  update-alternatives --set "$alt" "$want"
  blas_changed=" (libblas.so.3 switched to OpenBLAS)"
fi

if ((${#missing[@]} > 0)); then
  echo "install-deps.sh: installed ${#missing[@]} package(s): ${missing[*]}${blas_changed}"
else
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already present, nothing installed${blas_changed}"
fi
