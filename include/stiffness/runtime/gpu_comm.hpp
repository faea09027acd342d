// The communicator of GPU ranks: NCCL for device buffers, MPI for host ones.
// Built only with the CMake option STIFFNESS_NCCL (src/gpu/nccl_comm.cpp);
// without it src/gpu/no_nccl.cpp says why it is missing. Needs neither CUDA
// nor LibTorch headers, so any file may include it.
#pragma once

#include <memory>
#include <string>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/runtime/mpi_comm.hpp"

namespace stiffness {

// Whether this build has the NCCL backend, and one line saying which NCCL and
// CUDA runtime it has or why it was left out (for logs and error messages).
bool gpu_backend_built();
std::string gpu_backend_note();

// CUDA devices this process can see (0 without a driver or without the backend).
int cuda_device_count();

// Memory in use on the current CUDA device (all processes; torch's caching
// allocator keeps what it once reserved, so after a phase this is its peak
// reservation), in MiB; -1 without the backend or a GPU.
double gpu_memory_used_mb();

struct GpuCommOptions {
  int device = 0;                 // CUDA device index of this rank (already chosen)
  double timeout_seconds = 600;   // a collective with no progress this long ends the job
};

// An NCCL communicator over the ranks of `world`: rank 0's NCCL id is
// broadcast over MPI, then every rank joins. Device buffers go through NCCL on
// the communicator's own stream, ordered after the work already queued on the
// default stream; host buffers (scalars, metrics, the agreement before a
// rename) go through `world`. A failed or stalled NCCL call aborts the
// communicator and throws Error instead of hanging. Collective over `world`.
std::unique_ptr<Communicator> make_gpu_comm(MpiComm& world, const GpuCommOptions& o);

}  // namespace stiffness
