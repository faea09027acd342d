# Site set-up for the stiffness Slurm scripts, sourced by every one of them
# (run.sbatch, grid.sbatch, aggregate.sbatch) inside the allocation. Edit THIS
# file for your cluster; the job scripts themselves stay site-neutral.
#
# Variables it defines for the scripts (each can be set before submitting,
# since sbatch passes the submitting shell's environment on):
#   STIFFNESS_ROOT   the repository (default: the folder sbatch was called from)
#   STIFFNESS_BIN    the stiffness executable (default: $STIFFNESS_ROOT/build/stiffness)
#   STIFFNESS_LAUNCH how to start the MPI ranks of a job step (default: srun --mpi=pmix)
#   STIFFNESS_PYTHON Python with matplotlib and h5py, for `stiffness aggregate`

# ---- site-specific: modules -------------------------------------------------
# A typical module set-up; uncomment and adapt the names to your site's.
# module purge
# module load gcc/12 openmpi/4.1 hdf5-parallel/1.10 cuda/12.2
# module load python/3.11   # with matplotlib and h5py, for the aggregation

# ---- CUDA / NCCL (GPU runs: slurm/run-gpu.sbatch, slurm/grid-gpu.sbatch) ----
# One GPU per rank: with --gpus-per-task=1 Slurm gives each rank its own
# CUDA_VISIBLE_DEVICES; with --gpus-per-node each rank takes GPU
# (node-local rank mod visible GPUs). The log's "device:" lines say which.
# NCCL prints warnings only; INFO shows the transport it chose (NVLink, IB,
# sockets) when a run is slower than expected.
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# Site-specific, uncomment and adapt:
# export NCCL_SOCKET_IFNAME=ib0          # the interface NCCL bootstraps over
# export NCCL_IB_HCA=mlx5                # InfiniBand adapters to use
# export NCCL_IB_DISABLE=1               # nodes without InfiniBand
# A rank whose GPU collective makes no progress for --gpu-timeout seconds
# (default 600: a dead peer) ends the job with an error instead of hanging.

# ---- site-specific: Open MPI ------------------------------------------------
# export OMPI_MCA_btl=self,vader,tcp     # e.g. where openib warns or is absent
# export OMPI_MCA_btl_tcp_if_include=ib0
# Ranks that share cores with other work (more ranks than cores, small test
# clusters) should yield instead of busy-waiting in MPI calls; on dedicated
# cores busy-waiting is faster. mpirun --oversubscribe sets this by itself.
# export OMPI_MCA_mpi_yield_when_idle=1
# Open MPI refuses to run as root unless told (containers, test clusters).
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# ---- threads: as many as Slurm gave each task -------------------------------
# stiffness sets its own thread count from --threads (0 = cores / ranks); the
# BLAS and OpenMP pools of LibTorch follow these.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export MKL_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}

# ---- where things are --------------------------------------------------------
export STIFFNESS_ROOT=${STIFFNESS_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
export STIFFNESS_BIN=${STIFFNESS_BIN:-$STIFFNESS_ROOT/build/stiffness}
# Debian's Open MPI is built with PMIx only: pmi2 fails, pmix works. Where srun
# is not wired to your MPI, use mpirun inside the allocation instead, e.g.
#   export STIFFNESS_LAUNCH="mpirun -n ${SLURM_NTASKS:-1}"
export STIFFNESS_LAUNCH=${STIFFNESS_LAUNCH:-srun --mpi=pmix}
export STIFFNESS_PYTHON=${STIFFNESS_PYTHON:-/usr/bin/python3}
