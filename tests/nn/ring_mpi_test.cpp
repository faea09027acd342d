// The ring on 1-4 ranks against one process: every tile of K, every method,
// N divisible by P or not (and N < P); class stiffness reduced over ranks;
// data-parallel training keeps replicas identical and equal to 1-rank training.
// With STIFFNESS_TEST_DEVICE=cuda (tests/gpu/run.sh) the ring and the training
// run on the ranks' GPUs through the NCCL communicator, against the same CPU
// references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "stiffness/config/config.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/ring.hpp"
#include "stiffness/nn/train.hpp"
#include "stiffness/analysis/tiling.hpp"

using namespace stiffness;

namespace {

struct Case {
  std::string model;
  std::string method;
  torch::Dtype dtype;
  int64_t n;
};

// The device under test and its communicator (NCCL over `world` on CUDA).
RankDevice test_device(MpiComm& world) {
  const char* d = std::getenv("STIFFNESS_TEST_DEVICE");
  return open_device(world, d ? d : "cpu", 120);
}

Net make_net(const std::string& model, torch::Dtype dtype) {
  Config c;
  c.model = parse_choice<Model>(model, "model");
  c.widths = {12, 8};
  c.channels = {3, 4};
  c.dtype = dtype == torch::kFloat64 ? Precision::float64 : Precision::float32;
  torch::manual_seed(11);  // same on every rank
  return build_model(c, 1, 8, 8, 4);
}

void check_ring(const Case& cs) {
  MpiComm comm(MPI_COMM_WORLD);
  const int P = comm.size(), r = comm.rank();
  Net net = make_net(cs.model, cs.dtype);
  torch::manual_seed(5);
  auto x = torch::randn({cs.n, 1, 8, 8}, cs.dtype);
  auto y = torch::randint(4, {cs.n}, torch::kInt64);
  // Reference: the plain loop over all N examples in this one process.
  auto G = per_example_gradients_loop(net, x, y);
  auto K_ref = torch::mm(G, G.t()).to(torch::kFloat64);

  // The same model and data on the device under test.
  RankDevice dev = test_device(comm);
  Net dnet = make_net(cs.model, cs.dtype);
  dnet->to(dev.choice.device);
  auto dx = x.to(dev.choice.device), dy = y.to(dev.choice.device);
  auto plan = plan_gradients(dnet, dx[0], cs.n, cs.method);
  const Range mine = block_range(cs.n, P, r);
  auto blk = compute_block(dnet, plan, dx.slice(0, mine.begin, mine.end), dy.slice(0, mine.begin, mine.end));
  auto ring = ring_gram(dev.comm(comm), plan, blk, cs.n);
  for (auto& t : ring.tiles) {
    EXPECT_EQ(t.k.device(), dev.choice.device);
    t.k = t.k.cpu();
  }

  const double tol = cs.dtype == torch::kFloat64 ? 1e-10 : 1e-5;
  const double scale = K_ref.abs().max().item<double>();
  auto covered = torch::zeros({cs.n, cs.n}, torch::kFloat64);
  for (const auto& t : ring.tiles) {
    auto ref = K_ref.slice(0, t.rows.begin, t.rows.end).slice(1, t.cols.begin, t.cols.end);
    if (t.k.numel()) {
      EXPECT_LE((t.k - ref).abs().max().item<double>() / scale, tol)
          << cs.model << "/" << cs.method << " tile rows " << t.rows.begin << " cols " << t.cols.begin;
    }
    covered.slice(0, t.rows.begin, t.rows.end).slice(1, t.cols.begin, t.cols.end) += 1;
    if (t.mirrored) covered.slice(0, t.cols.begin, t.cols.end).slice(1, t.rows.begin, t.rows.end) += 1;
  }
  // Every entry of K computed exactly once over all ranks.
  comm.allreduce_sum(covered.data_ptr<double>(), covered.numel(), DType::f64);
  EXPECT_TRUE(torch::equal(covered, torch::ones_like(covered))) << cs.model << "/" << cs.method;
  // The gathered diagonal is everyone's |g_i|^2.
  for (int64_t i = 0; i < cs.n; ++i)
    EXPECT_NEAR(ring.diag[i], K_ref[i][i].item<double>(), tol * scale);

  // Streaming: panels far smaller than a tile (budgets of 1, 5 and 23
  // entries) give the same K, every entry once, and every rank goes through
  // the same number of rounds (so collective writes in the sink line up).
  for (int64_t budget : {int64_t{1}, int64_t{5}, int64_t{23}}) {
    auto seen = torch::zeros({cs.n, cs.n}, torch::kFloat64);
    int64_t rounds = 0, biggest = 0;
    double worst = 0;
    ring_panels(dev.comm(comm), plan, blk, cs.n, budget, [&](const std::vector<GramTile>& pieces) {
      ++rounds;
      int64_t entries = 0;
      for (const auto& p : pieces) {
        auto k = p.k.cpu();
        entries += k.numel();
        auto ref = K_ref.slice(0, p.rows.begin, p.rows.end).slice(1, p.cols.begin, p.cols.end);
        if (k.numel()) worst = std::max(worst, (k - ref).abs().max().item<double>() / scale);
        seen.slice(0, p.rows.begin, p.rows.end).slice(1, p.cols.begin, p.cols.end) += 1;
        if (p.mirrored) seen.slice(0, p.cols.begin, p.cols.end).slice(1, p.rows.begin, p.rows.end) += 1;
      }
      // A panel of one row may exceed the budget (a row is never split).
      if (!pieces.empty() && pieces.front().rows.size() > 1) biggest = std::max(biggest, entries);
    });
    EXPECT_LE(worst, tol) << cs.model << "/" << cs.method << " budget " << budget;
    EXPECT_LE(biggest, budget) << "budget " << budget;
    comm.allreduce_sum(seen.data_ptr<double>(), seen.numel(), DType::f64);
    EXPECT_TRUE(torch::equal(seen, torch::ones_like(seen))) << cs.model << "/" << cs.method << " budget " << budget;
    double most[2] = {static_cast<double>(rounds), -static_cast<double>(rounds)};
    comm.allreduce_max(most, 2, DType::f64);
    EXPECT_EQ(most[0], -most[1]) << "ranks went through different numbers of rounds";
  }
}

}  // namespace

TEST(Ring, MlpFactorFloat64) { check_ring({"mlp", "factor", torch::kFloat64, 13}); }
TEST(Ring, MlpMaterializeFloat64) { check_ring({"mlp", "materialize", torch::kFloat64, 12}); }
TEST(Ring, MlpLoopFloat64) { check_ring({"mlp", "loop", torch::kFloat64, 10}); }
TEST(Ring, MlpAutoFloat32) { check_ring({"mlp", "auto", torch::kFloat32, 11}); }
TEST(Ring, CnnFactorFloat64) { check_ring({"cnn", "factor", torch::kFloat64, 9}); }
TEST(Ring, CnnAutoFloat32) { check_ring({"cnn", "auto", torch::kFloat32, 10}); }
TEST(Ring, FewerExamplesThanRanks) { check_ring({"mlp", "auto", torch::kFloat64, 3}); }

TEST(ClassStiffness, ReducedOverRanksEqualsOneProcess) {
  MpiComm world(MPI_COMM_WORLD);
  MpiComm self(MPI_COMM_SELF);
  const int64_t n = 14, classes = 3;
  torch::manual_seed(3);
  auto g = torch::randn({n, 5}, torch::kFloat64);
  auto K = torch::mm(g, g.t()).contiguous();
  std::vector<int64_t> labels;
  std::vector<Split> split;
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % classes);
    split.push_back(i < 8 ? Split::train : Split::val);
  }
  std::vector<double> diag(n);
  for (int64_t i = 0; i < n; ++i) diag[i] = K[i][i].item<double>();
  // One process, whole matrix as one tile.
  ClassStiffnessAccumulator whole(labels, split, classes);
  whole.add_tile(0, 0, n, n, K.data_ptr<double>(), diag, false);
  auto ref = whole.reduce(self);
  // Ring tiles spread over ranks, with mirrors.
  ClassStiffnessAccumulator part(labels, split, classes);
  const int P = world.size();
  for (const auto& t : ring_tiles(n, P, world.rank())) {
    const Range a = t.rows, b = t.cols;
    auto tile = K.slice(0, a.begin, a.end).slice(1, b.begin, b.end).contiguous();
    part.add_tile(a.begin, b.begin, a.size(), b.size(), tile.data_ptr<double>(), diag, t.step > 0);
  }
  auto got = part.reduce(world);
  for (int s = 0; s < kNumPairSets; ++s) {
    EXPECT_EQ(got[s].pairs, ref[s].pairs) << pair_set_name(s);
    for (size_t i = 0; i < ref[s].cosine.size(); ++i) {
      EXPECT_NEAR(got[s].cosine[i], ref[s].cosine[i], 1e-12);
      EXPECT_NEAR(got[s].sign[i], ref[s].sign[i], 1e-12);
    }
    EXPECT_NEAR(got[s].within_cosine, ref[s].within_cosine, 1e-12);
    EXPECT_NEAR(got[s].between_sign, ref[s].between_sign, 1e-12);
  }
}

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
