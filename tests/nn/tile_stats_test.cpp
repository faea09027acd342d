// TileStatistics (torch ops on the tiles' device, the GPU rank's path) against
// the host ClassStiffnessAccumulator on the same tiles: every class matrix
// entry, pair count, distance bin and xi, for diagonal tiles (self pairs
// excluded), mirrored off-diagonal tiles, chunks, zero norms and zero entries.
#include <gtest/gtest.h>


#include "one_rank.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/nn/tile_stats.hpp"

using namespace stiffness;

namespace {

struct Data {
  std::vector<int64_t> labels;
  std::vector<Split> split;
  torch::Tensor K, dist;
  std::vector<double> diag;
};

// N examples, `classes` labels, the first n_train in the train split; K a
// real Gram matrix (with one zero gradient and some exact zero entries).
Data make_data(int64_t N, int64_t n_train, int64_t classes) {
  torch::manual_seed(3);
  Data d;
  auto lab = torch::randint(classes, {N}, torch::kInt64);
  for (int64_t i = 0; i < N; ++i) {
    d.labels.push_back(lab[i].item<int64_t>());
    d.split.push_back(i < n_train ? Split::train : Split::val);
  }
  auto G = torch::randn({N, 6}, torch::kFloat64);
  G[2].zero_();                       // a zero gradient: cosine 0 by definition
  G[5].copy_(torch::tensor({1., 0., 0., 0., 0., 0.}, torch::kFloat64));
  G[7].copy_(torch::tensor({0., 1., 0., 0., 0., 0.}, torch::kFloat64));  // K[5,7] == 0: sign 0
  d.K = torch::mm(G, G.t());
  auto X = torch::randn({N, 5}, torch::kFloat64);
  X = X / X.norm(2, 1, true);
  d.dist = (1.0 - torch::mm(X, X.t())).contiguous();
  auto kd = d.K.diagonal().contiguous();
  d.diag.assign(kd.data_ptr<double>(), kd.data_ptr<double>() + N);
  return d;
}

void expect_same(const std::array<ClassStiffness, kNumPairSets>& a, const std::array<ClassStiffness, kNumPairSets>& b) {
  for (int s = 0; s < kNumPairSets; ++s) {
    ASSERT_EQ(a[s].pairs, b[s].pairs) << pair_set_name(s);
    for (size_t i = 0; i < a[s].cosine.size(); ++i) {
      if (std::isnan(a[s].cosine[i])) {
        EXPECT_TRUE(std::isnan(b[s].cosine[i]));
        continue;
      }
      EXPECT_NEAR(a[s].cosine[i], b[s].cosine[i], 1e-12) << pair_set_name(s) << " entry " << i;
      EXPECT_NEAR(a[s].sign[i], b[s].sign[i], 1e-12) << pair_set_name(s) << " entry " << i;
    }
    // NaN (a pair set without pairs) on both sides, or the same number.
    for (auto [x, y] : {std::pair{a[s].within_cosine, b[s].within_cosine}, std::pair{a[s].between_sign, b[s].between_sign}}) {
      EXPECT_EQ(std::isnan(x), std::isnan(y));
      if (!std::isnan(x)) EXPECT_NEAR(x, y, 1e-12);
    }
  }
}

void expect_same(const std::array<DistanceCurves, kNumPairSets>& a, const std::array<DistanceCurves, kNumPairSets>& b) {
  for (int s = 0; s < kNumPairSets; ++s) {
    ASSERT_EQ(a[s].within_pairs, b[s].within_pairs) << pair_set_name(s);
    ASSERT_EQ(a[s].all_pairs, b[s].all_pairs) << pair_set_name(s);
    for (size_t i = 0; i < a[s].all_cosine.size(); ++i) {
      if (a[s].all_pairs[i]) EXPECT_NEAR(a[s].all_cosine[i], b[s].all_cosine[i], 1e-12);
      if (a[s].within_pairs[i]) EXPECT_NEAR(a[s].within_sign[i], b[s].within_sign[i], 1e-12);
    }
    if (std::isnan(a[s].slope_cosine)) {
      EXPECT_TRUE(std::isnan(b[s].slope_cosine));
    } else {
      EXPECT_NEAR(a[s].slope_cosine, b[s].slope_cosine, 1e-9 * std::max(1.0, std::abs(a[s].slope_cosine)));
      EXPECT_NEAR(a[s].intercept_sign, b[s].intercept_sign, 1e-9 * std::max(1.0, std::abs(a[s].intercept_sign)));
    }
  }
}

}  // namespace

TEST(TileStatistics, MatchesHostAccumulatorOnEveryKindOfTile) {
  const int64_t N = 23, n_train = 14, C = 3;
  const int bins = 8;
  Data d = make_data(N, n_train, C);
  ClassStiffnessAccumulator host(d.labels, d.split, C, bins), via_sums(d.labels, d.split, C, bins);
  TileStatistics dev(d.labels, d.split, C, bins, torch::kCPU);
  auto diag = torch::tensor(d.diag, torch::kFloat64);
  // Two diagonal blocks [0, 9) and [9, 23) (symmetric, not mirrored) and the
  // off-diagonal block rows [0, 9) x cols [9, 23) mirrored, that one fed in
  // two row chunks: together every ordered pair once.
  struct T { int64_t r0, r1, c0, c1; bool mirrored; };
  for (const T t : {T{0, 9, 0, 9, false}, T{9, 23, 9, 23, false}, T{0, 4, 9, 23, true}, T{4, 9, 9, 23, true}}) {
    auto k = d.K.slice(0, t.r0, t.r1).slice(1, t.c0, t.c1).contiguous();
    auto dist = d.dist.slice(0, t.r0, t.r1).slice(1, t.c0, t.c1).contiguous();
    host.add_tile(t.r0, t.c0, t.r1 - t.r0, t.c1 - t.c0, k.data_ptr<double>(), d.diag, t.mirrored,
                  dist.data_ptr<double>());
    dev.add(t.r0, t.c0, k, diag, t.mirrored, dist);
  }
  via_sums.add_sums(dev.sums());
  test_support::OneRank one;
  const auto a = host.reduce(one), b = via_sums.reduce(one);
  expect_same(a, b);
  expect_same(host.reduce_distance(one), via_sums.reduce_distance(one));
  // The comparison is not vacuous: all three pair sets have pairs.
  for (int s = 0; s < kNumPairSets; ++s) {
    int64_t total = 0;
    for (auto p : a[s].pairs) total += p;
    EXPECT_GT(total, 0) << pair_set_name(s);
  }
  // Ordered train-train pairs without self pairs: 14 * 13.
  int64_t tt = 0;
  for (auto p : a[kTrainTrain].pairs) tt += p;
  EXPECT_EQ(tt, n_train * (n_train - 1));
}

TEST(TileStatistics, WithoutDistanceAndShapeMismatchIsAnError) {
  Data d = make_data(10, 10, 2);
  ClassStiffnessAccumulator host(d.labels, d.split, 2), via_sums(d.labels, d.split, 2);
  TileStatistics dev(d.labels, d.split, 2, 0, torch::kCPU);
  auto k = d.K.contiguous();
  host.add_tile(0, 0, 10, 10, k.data_ptr<double>(), d.diag, false);
  dev.add(0, 0, k, torch::tensor(d.diag, torch::kFloat64), false);
  via_sums.add_sums(dev.sums());
  test_support::OneRank one;
  expect_same(host.reduce(one), via_sums.reduce(one));
  ClassStiffnessAccumulator other(d.labels, d.split, 2, 4);
  EXPECT_THROW(other.add_sums(dev.sums()), Error);
}
