#include "stiffness/nn/device.hpp"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>

#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/runtime/provenance.hpp"

// Set by CMake for this file only: 1 when the LibTorch found has CUDA.
#ifndef STIFFNESS_TORCH_CUDA_BUILD
#define STIFFNESS_TORCH_CUDA_BUILD 0
#endif

namespace stiffness {

bool torch_has_cuda() { return STIFFNESS_TORCH_CUDA_BUILD != 0; }

namespace {

// Why CUDA cannot be used here, or "" when it can.
std::string cuda_unusable(int local_size) {
  if (!torch_has_cuda())
    return std::string("this LibTorch (") + TORCH_VERSION + ") was built without CUDA; build against a CUDA "
           "LibTorch (docs/gpu.md)";
  if (!gpu_backend_built()) return gpu_backend_note();
  const int n = static_cast<int>(torch::cuda::device_count());
  if (n == 0) {
    const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
    return std::string("no CUDA device is visible") + (vis ? " (CUDA_VISIBLE_DEVICES=" + std::string(vis) + ")" : "");
  }
  const char* shared = std::getenv("STIFFNESS_ALLOW_SHARED_GPU");
  if (local_size > n && !(shared && std::string(shared) == "1"))
    return std::to_string(local_size) + " ranks on this node but " + std::to_string(n) +
           " visible GPU(s); NCCL needs one GPU per rank: start at most " + std::to_string(n) +
           " ranks per node (Slurm: --gpus-per-task=1)";
  return "";
}

}  // namespace

DeviceChoice choose_device(DeviceRequest requested, int local_rank, int local_size) {
  DeviceChoice c;
  if (requested == DeviceRequest::cpu) {
    c.why = "CPU (--device cpu)";
    return c;
  }
  const std::string problem = cuda_unusable(local_size);
  if (!problem.empty()) {
    STIFF_CHECK(requested == DeviceRequest::automatic, "--device cuda: " + problem);
    c.why = "CPU (--device auto: " + problem + ")";
    return c;
  }
  const int n = static_cast<int>(torch::cuda::device_count());
  const int index = local_rank % n;
  c.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  c.why = "CUDA device " + std::to_string(index) + " of " + std::to_string(n) + " visible (node-local rank " +
          std::to_string(local_rank) + (requested == DeviceRequest::automatic ? ", --device auto)" : ")");
  return c;
}

std::string configure_precision(const torch::Device& d) {
  if (!d.is_cuda()) return "CPU arithmetic in the model dtype";
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  return "TF32 off for cuBLAS and cuDNN: float32 matmuls and convolutions in full float32";
}

namespace {

// Every rank's line, in rank order, on every rank (fixed-size records).
std::vector<std::string> gather_lines(Communicator& comm, const std::string& line) {
  constexpr int64_t kWidth = 200;
  std::string mine = line.substr(0, kWidth);
  mine.resize(kWidth, '\0');
  std::vector<char> all(kWidth * comm.size());
  comm.allgatherv(mine.data(), all.data(), std::vector<int64_t>(comm.size(), kWidth), DType::u8);
  std::vector<std::string> out;
  for (int r = 0; r < comm.size(); ++r) out.emplace_back(all.data() + r * kWidth);
  return out;
}

}  // namespace

RankDevice open_device(MpiComm& world, const std::string& requested, double gpu_timeout) {
  DeviceRequest r = DeviceRequest::cpu;
  collective_phase(world, [&] { r = parse_choice<DeviceRequest>(requested, "device"); });
  return open_device(world, r, gpu_timeout);
}

RankDevice open_device(MpiComm& world, DeviceRequest requested, double gpu_timeout) {
  RankDevice d;
  collective_phase(world, [&] {
    d.choice = choose_device(requested, node_local_rank(world.get()), node_local_size(world.get()));
  });
  d.per_rank = gather_lines(world, "rank " + std::to_string(world.rank()) + " on " + host_name() + ": " +
                                       d.choice.why);
  // All ranks must agree: a job is all-GPU or all-CPU (one communicator kind).
  int64_t cuda = d.choice.device.is_cuda() ? 1 : 0, any = cuda;
  world.allreduce_max(&any, 1, DType::i64);
  collective_phase(world, [&] {
    STIFF_CHECK(cuda == any, "--device auto: some ranks found a usable GPU and others did not (" +
                                 d.choice.why + "); use --device cpu or give every rank a GPU");
  });
  d.precision = configure_precision(d.choice.device);
  if (cuda) {
    collective_phase(world, [&] {
      GpuCommOptions o;
      o.device = d.choice.device.index();
      o.timeout_seconds = gpu_timeout;
      d.gpu_comm = make_gpu_comm(world, o);
    });
  }
  return d;
}

}  // namespace stiffness
