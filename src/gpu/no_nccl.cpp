// The GPU backend when the build has none (STIFFNESS_NCCL=OFF, or no CUDA
// runtime / nccl.h at configure time): every entry point says so.
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"

namespace stiffness {

bool gpu_backend_built() { return false; }

std::string gpu_backend_note() {
  return "no NCCL backend in this build (configure with a CUDA toolkit and nccl.h, "
         "-DSTIFFNESS_NCCL=ON; see docs/gpu.md)";
}

int cuda_device_count() { return 0; }

double gpu_memory_used_mb() { return -1; }

std::unique_ptr<Communicator> make_gpu_comm(MpiComm&, const GpuCommOptions&) {
  STIFF_THROW("GPU ranks need the NCCL backend: " + gpu_backend_note());
}

}  // namespace stiffness
