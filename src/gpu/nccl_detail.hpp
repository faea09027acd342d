// Pieces of the NCCL backend that tests call directly (tests/gpu/nccl_comm_test.cpp).
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "stiffness/runtime/comm.hpp"

namespace stiffness::gpu {

// The NCCL element type of a DType (all four have one).
ncclDataType_t nccl_type(DType t);

// Where a buffer lives. Host memory that CUDA does not know (malloc, a
// std::vector) and null pointers are host; so is everything when no driver
// is loaded, since no device memory can exist then.
enum class MemoryKind { host, device };
MemoryKind memory_kind(const void* p);

// Throw stiffness::Error with the failing call, the CUDA/NCCL error text and
// the caller's file and line.
[[noreturn]] void throw_cuda(cudaError_t e, const char* what, const char* file, int line);
[[noreturn]] void throw_nccl(ncclResult_t r, ncclComm_t comm, const char* what, const char* file, int line);

}  // namespace stiffness::gpu

#define STIFF_CUDA(call)                                                               \
  do {                                                                                 \
    const cudaError_t stiff_e_ = (call);                                               \
    if (stiff_e_ != cudaSuccess) ::stiffness::gpu::throw_cuda(stiff_e_, #call, __FILE__, __LINE__); \
  } while (0)
