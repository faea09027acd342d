// The ring on 1-4 ranks against one process: every tile of K, every method,
// N divisible by P or not (and N < P), whole tiles and streamed panels.
// With STIFFNESS_TEST_DEVICE=cuda (tests/gpu/run.sh) the ring runs on the
// ranks' GPUs through the NCCL communicator, against the same CPU reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mpi_nets.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/analysis/tiling.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/ring.hpp"

using namespace stiffness;
using namespace stiffness::test_support;

namespace {

struct Case {
  std::string model;
  std::string method;
  torch::Dtype dtype;
  int64_t n;
};

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
