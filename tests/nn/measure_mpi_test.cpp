// Class stiffness accumulated from ring tiles spread over 1-4 ranks and
// reduced over them equals the one-process result on the whole of K.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <vector>

#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/analysis/tiling.hpp"

using namespace stiffness;

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
