// Data-parallel training: replicas start identical, each rank computes the
// gradient of its shard of every global batch, and the gradients are summed
// over ranks through the Communicator (MPI here, NCCL on GPU ranks) before
// every rank takes the same optimiser step.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/config/config.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/nn/model.hpp"

namespace stiffness {

struct TensorData {
  torch::Tensor x;  // N x C x H x W, model dtype
  torch::Tensor y;  // N, int64
  int64_t size() const { return x.size(0); }
};

// The first `limit` examples (0 = all) of `set` as tensors of `dtype` on
// `device` (a GPU rank keeps its whole training set there: no host copy per batch).
TensorData to_tensors(const ImageSet& set, torch::Dtype dtype, int64_t limit = 0,
                      torch::Device device = torch::kCPU);

// Rank 0's parameters to every rank, so that replicas are identical.
void broadcast_parameters(Net& net, Communicator& comm);

// Largest absolute difference between this rank's parameters and rank 0's,
// as seen by every rank (0 when replicas are identical). For tests and logs.
double replica_divergence(Net& net, Communicator& comm);

struct EvalResult {
  double loss = 0, accuracy = 0;
};

// Mean loss and accuracy over the first `limit` examples (0 = all), each rank
// evaluating a slice. Collective.
EvalResult evaluate(Net& net, const TensorData& data, int64_t limit, Communicator& comm);

class Trainer {
 public:
  Trainer(Net net, const Config& c, Communicator& comm, const TensorData& train);
  // One optimiser step on the next global batch. Returns the batch's mean loss.
  double step();
  int64_t steps_done() const { return step_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  double epoch() const { return static_cast<double>(step_) / steps_per_epoch_; }
  // Optimiser state to/from a file (checkpoints); load also sets the step
  // and the data order of that step's epoch.
  void save(const std::string& path);
  void load(const std::string& path, int64_t step);

 private:
  void reshuffle(int64_t epoch);
  Net net_;
  const Config& c_;
  Communicator& comm_;
  const TensorData& data_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  std::vector<int64_t> order_;
  int64_t steps_per_epoch_ = 1, step_ = 0;
};

// Total optimiser steps the configuration asks for.
int64_t total_steps(const Config& c, int64_t train_size);

}  // namespace stiffness
