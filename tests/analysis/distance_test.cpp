// Stiffness against input distance and the critical length xi, by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "stiffness/analysis/metrics.hpp"
#include "one_rank.hpp"

using namespace stiffness;


TEST(Distance, FirstZeroCrossingInterpolatesAndSkipsEmptyBins) {
  std::vector<double> x{0.5, 1.5, 2.5, 3.5};
  EXPECT_DOUBLE_EQ(first_zero_crossing(x, {0.4, 0.2, -0.2, -0.5}, {1, 1, 1, 1}), 2.0);
  // Bin 1 empty: interpolate between bins 0 and 2.
  EXPECT_DOUBLE_EQ(first_zero_crossing(x, {0.5, NAN, -0.5, 1}, {3, 0, 3, 3}), 1.5);
  EXPECT_TRUE(std::isnan(first_zero_crossing(x, {0.5, 0.4, 0.3, 0.2}, {1, 1, 1, 1})));
}

TEST(Distance, BinsAndLinearFitOnAKnownLine) {
  // Three train examples of one class; cosine stiffness = 1 - d exactly:
  // K entries chosen so that cos_ij = 1 - d_ij with unit diagonal.
  const double d01 = 0.2, d02 = 0.6, d12 = 1.4;
  std::vector<double> K{1, 1 - d01, 1 - d02, 1 - d01, 1, 1 - d12, 1 - d02, 1 - d12, 1};
  std::vector<double> D{0, d01, d02, d01, 0, d12, d02, d12, 0};
  ClassStiffnessAccumulator acc({0, 0, 0}, {Split::train, Split::train, Split::train}, 1, 4);
  acc.add_tile(0, 0, 3, 3, K.data(), {1, 1, 1}, false, D.data());
  test_support::OneRank one;
  auto r = acc.reduce_distance(one)[kTrainTrain];
  ASSERT_EQ(r.edges.size(), 5u);
  EXPECT_DOUBLE_EQ(r.edges[2], 1.0);
  // Bins of width 0.5: d01 and d02 fall in bins 0 and 1, d12 in bin 2; ordered pairs count twice.
  EXPECT_EQ(r.within_pairs, (std::vector<int64_t>{2, 2, 2, 0}));
  EXPECT_EQ(r.all_pairs, r.within_pairs);
  EXPECT_NEAR(r.within_cosine[2], 1 - d12, 1e-12);
  EXPECT_TRUE(std::isnan(r.within_cosine[3]));
  EXPECT_NEAR(r.slope_cosine, -1.0, 1e-12);
  EXPECT_NEAR(r.intercept_cosine, 1.0, 1e-12);
  EXPECT_NEAR(r.xi_linear_cosine, 1.0, 1e-12);
  // Binned: centres 0.25, 0.75, 1.25 with means 0.8, 0.4, -0.4: crossing at 1.0.
  EXPECT_NEAR(r.xi_binned_cosine, 1.0, 1e-12);
  // Sign stiffness is +1, +1, -1: a falling line as well.
  EXPECT_LT(r.slope_sign, 0);
}

TEST(Distance, BetweenClassPairsOnlyInAllPairs) {
  std::vector<double> K{1, 0.5, 0.5, 1};
  std::vector<double> D{0, 0.3, 0.3, 0};
  ClassStiffnessAccumulator acc({0, 1}, {Split::train, Split::train}, 2, 2);
  acc.add_tile(0, 0, 2, 2, K.data(), {1, 1}, false, D.data());
  test_support::OneRank one;
  auto r = acc.reduce_distance(one)[kTrainTrain];
  EXPECT_EQ(r.within_pairs, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(r.all_pairs, (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(std::isnan(r.xi_linear_cosine));
}
