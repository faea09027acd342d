#!/bin/sh
# Wrapper for several MPI ranks on ONE GPU (tests only; gpu-notes §2.7):
#   mpiexec -n 2 sh tests/gpu/rank-env.sh PROGRAM ARGS...
# NCCL refuses two ranks of one communicator on the same device ("Duplicate GPU
# detected") unless each rank looks like its own host: NCCL_HOSTID overrides
# NCCL's host hash, so with a different id per rank each one is a "node" and
# they talk over NET/Socket, forced onto loopback.
export NCCL_HOSTID="fake${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}"
export NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1
# stiffness itself refuses more ranks than GPUs on a node unless told that
# this is such a test (src/nn/device.cpp).
export STIFFNESS_ALLOW_SHARED_GPU=1
exec "$@"
