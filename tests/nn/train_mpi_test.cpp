// Data-parallel training on 1-4 ranks keeps the replicas identical and
// equal to 1-rank training, with Adam and SGD, batches that split unevenly.
// With STIFFNESS_TEST_DEVICE=cuda (tests/gpu/run.sh) the ranks train on
// their GPUs through the NCCL communicator, against a CPU rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "mpi_nets.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/nn/train.hpp"

using namespace stiffness;
using namespace stiffness::test_support;

TEST(Training, ReplicasStayIdenticalAndMatchOneRank) {
  MpiComm world(MPI_COMM_WORLD);
  MpiComm self(MPI_COMM_SELF);
  torch::manual_seed(7);
  TensorData data{torch::randn({96, 1, 8, 8}, torch::kFloat64), torch::randint(4, {96}, torch::kInt64)};
  Config c;
  c.batch_size = 12;  // not divisible by 4 or 3... 12 is; shards differ for P=... see below
  c.lr = 1e-2;
  RankDevice dev = test_device(world);
  Communicator& comm = dev.comm(world);
  TensorData ddata{data.x.to(dev.choice.device), data.y.to(dev.choice.device)};
  for (std::string opt : {"adam", "sgd"}) {
    c.optimizer = parse_choice<Optimizer>(opt, "optimizer");
    c.batch_size = opt == "adam" ? 12 : 10;  // 10 splits unevenly over 3 and 4 ranks
    Net a = make_net("mlp", torch::kFloat64);
    Net b = make_net("mlp", torch::kFloat64);
    // Perturb rank-local init, then broadcast: replicas must become identical.
    {
      torch::NoGradGuard ng;
      a->parameters()[0].add_(world.rank());
      b->parameters()[0].add_(world.rank());
    }
    a->to(dev.choice.device);
    broadcast_parameters(a, comm);
    broadcast_parameters(b, self);
    {
      torch::NoGradGuard ng;  // b must start from rank 0's values too
      auto pa = a->parameters(), pb = b->parameters();
      for (size_t i = 0; i < pa.size(); ++i) pb[i].copy_(pa[i]);
    }
    // a: the device under test over all ranks; b: one CPU rank.
    Trainer ta(a, c, comm, ddata), tb(b, c, self, data);
    for (int s = 0; s < 10; ++s) {  // crosses an epoch boundary (96 / 12 = 8 steps)
      ta.step();
      tb.step();
    }
    EXPECT_EQ(replica_divergence(a, comm), 0.0) << opt;
    auto pa = a->parameters(), pb = b->parameters();
    double diff = 0;
    for (size_t i = 0; i < pa.size(); ++i) diff = std::max(diff, (pa[i].cpu() - pb[i]).abs().max().item<double>());
    EXPECT_LT(diff, 1e-10) << opt << ": " << world.size() << " ranks vs 1 rank";
  }
}
