// What the nn tests under mpiexec share: the device under test (CPU, or with
// STIFFNESS_TEST_DEVICE=cuda the rank's GPU through the NCCL communicator:
// tests/gpu/run.sh) and a small model built the same on every rank.
#pragma once

#include <cstdlib>
#include <string>

#include "stiffness/config/config.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/nn/model.hpp"

namespace stiffness::test_support {

// The device under test and its communicator (NCCL over `world` on CUDA).
inline RankDevice test_device(MpiComm& world) {
  const char* d = std::getenv("STIFFNESS_TEST_DEVICE");
  return open_device(world, d ? d : "cpu", 120);
}

inline Net make_net(const std::string& model, torch::Dtype dtype) {
  Config c;
  c.model = parse_choice<Model>(model, "model");
  c.widths = {12, 8};
  c.channels = {3, 4};
  c.dtype = dtype == torch::kFloat64 ? Precision::float64 : Precision::float32;
  torch::manual_seed(11);  // same on every rank
  return build_model(c, 1, 8, 8, 4);
}

}  // namespace stiffness::test_support
