// The phases of a job, in the order it runs them. Each is collective over
// the ranks (a failure on any rank ends every rank with one line) and
// returns what the later phases need, so that a command reads as a list of
// named steps:
//
//   Config c = parse_options(...)          options, output path
//   Devices dev = open_devices(...)        device, communicator, threads
//   Data data = load_data(...)             data sets and the measured sample
//   Network net = build_net(...)           the replicas and the gradient plan
//   MeasurePlan plan = plan_measurements(...)  panel budget, disk rate
//   RunInfo info = describe_run(...)       the run file's attributes
//
// `stiffness train` (train.cpp) runs them all and then trains and measures
// on a schedule; a command that measures given weights runs every one of
// them and skips the training.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "stiffness/config/config.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/io/run_file.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/sample.hpp"
#include "stiffness/nn/train.hpp"
#include "stiffness/runtime/comm.hpp"
#include "stiffness/runtime/mpi_comm.hpp"

namespace stiffness {

// Rank 0 logs at info level, the others only warnings.
void setup_logging(int rank);

// The options, parsed and checked on every rank, and the output path checked
// on rank 0 (an existing checkpoint there means "resume"). Empty when the
// command is done already: --help printed, or --check-only passed.
std::optional<Config> parse_options(MpiComm& world, int argc, const char* const* argv);

// Every rank's device, float32 precision, the communicator of its tensors
// (NCCL on GPUs, else MPI) and its thread count; all of it logged.
struct Devices {
  RankDevice rank;
  torch::Device device{torch::kCPU};
  int threads = 1;
  Communicator& comm(MpiComm& world) { return rank.comm(world); }
};
Devices open_devices(MpiComm& world, const Config& c);

// The data sets as tensors on the rank's device, and the measured sample.
// The sets keep their shapes, labels and sources; their pixels are freed.
struct Data {
  ImageSet train_set, val_set;
  TensorData train, val;
  Sample sample;
};
// Resolves c.num_classes (0 = from the data) and the recorded data set name.
Data load_data(Communicator& comm, Config& c, torch::Device device);

// The model, the same on every rank (built on the CPU from the seed, then
// moved, then rank 0's values broadcast), and its per-example gradient plan.
struct Network {
  Net net{nullptr};
  GradPlan plan;
  std::string description;
  int64_t num_params = 0;
};
Network build_net(Communicator& comm, const Config& c, const Data& data, torch::Device device);

// How a measurement uses memory and disk: the panel budget per rank (the
// smallest over ranks: the ranks keep in lockstep by tiling maths) and, when
// a K to be stored is large enough for it to matter, the output disk's
// sequential write rate (-1: not measured).
struct MeasurePlan {
  double panel_mb = 0;
  double disk_gbps = -1;
};
MeasurePlan plan_measurements(MpiComm& world, Communicator& comm, const Config& c, int64_t n_examples);

// The run's attributes for the output file, the same on every rank (rank 0's
// host, time and BLAS).
RunInfo describe_run(Communicator& comm, const Config& c, const Data& data, const Network& model, int threads);

}  // namespace stiffness
