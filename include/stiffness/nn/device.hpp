// Where a rank computes: `--device cpu | cuda | auto` (docs/gpu.md). On CUDA
// every tensor of the hot paths (model, optimiser state, training data, the
// sample, gradient blocks, Gram tiles) lives on the rank's GPU; code takes
// the device from its inputs, so the CPU tests run the same code.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "stiffness/config/choices.hpp"
#include "stiffness/runtime/comm.hpp"
#include "stiffness/runtime/mpi_comm.hpp"

namespace stiffness {

struct DeviceChoice {
  torch::Device device{torch::kCPU};
  std::string why;  // one line for the log: what was chosen and why
};

// Whether this LibTorch was built with CUDA (Debian's 1.13 is not).
bool torch_has_cuda();

// The device of a rank that is `local_rank` of `local_size` ranks on its node:
// GPU local_rank modulo the visible devices. For `cuda` it throws a one-line
// Error naming what is missing: a CUDA LibTorch, the NCCL backend, a visible
// GPU, or one GPU per rank (two ranks on one GPU only with
// STIFFNESS_ALLOW_SHARED_GPU=1, for tests: NCCL refuses it otherwise).
DeviceChoice choose_device(DeviceRequest requested, int local_rank, int local_size);

// Float32 on CUDA without TF32 in cuBLAS and cuDNN, so that GPU results
// agree with the CPU's to float32 rounding. Returns a line for the log.
std::string configure_precision(const torch::Device& d);

// A rank's device and the communicator its tensors need: the NCCL one
// (holding `world` for host buffers) on CUDA, `world` itself on the CPU.
struct RankDevice {
  DeviceChoice choice;
  std::unique_ptr<Communicator> gpu_comm;  // null on CPU ranks
  Communicator& comm(MpiComm& world) { return gpu_comm ? *gpu_comm : world; }
  std::vector<std::string> per_rank;       // "rank r on host: device" for every rank (for the log)
  std::string precision;                   // what configure_precision chose
};

// Chooses every rank's device (collectively: a failure on any rank ends all
// with one line), sets float32 precision and, on CUDA, creates the NCCL
// communicator. Collective over `world`.
RankDevice open_device(MpiComm& world, DeviceRequest requested, double gpu_timeout);
// The same with the device by name (cpu | cuda | auto).
RankDevice open_device(MpiComm& world, const std::string& requested, double gpu_timeout);

}  // namespace stiffness
