// The critical lengths of issue 10: xi reported only inside the observed
// distance range (else NaN and why), and the half-stiffness length, which
// exists whenever there are within-class pairs (docs/metrics.md).
#include <gtest/gtest.h>

#include <cmath>

#include "one_rank.hpp"
#include "stiffness/analysis/metrics.hpp"

using namespace stiffness;

TEST(CriticalLength, XiOnlyInsideTheObservedRange) {
  std::string why;
  EXPECT_DOUBLE_EQ(xi_in_range(-2.0, 1.0, 10, 0.2, 1.4, why), 0.5);
  EXPECT_EQ(why, "ok");
  // The same line observed only over [0.6, 1.4]: its zero at 0.5 is outside.
  EXPECT_TRUE(std::isnan(xi_in_range(-2.0, 1.0, 10, 0.6, 1.4, why)));
  EXPECT_EQ(why, "no_crossing_in_range");
  // A shallow line crossing at 1000 (the "xi = 527" of the issue).
  EXPECT_TRUE(std::isnan(xi_in_range(-1e-3, 1.0, 1000, 0.1, 1.9, why)));
  EXPECT_EQ(why, "no_crossing_in_range");
  EXPECT_TRUE(std::isnan(xi_in_range(0.0, 1.0, 10, 0.2, 1.4, why)));
  EXPECT_EQ(why, "slope_not_negative");
  EXPECT_TRUE(std::isnan(xi_in_range(0.3, -0.1, 10, 0.2, 1.4, why)));
  EXPECT_EQ(why, "slope_not_negative");
  EXPECT_TRUE(std::isnan(xi_in_range(-1.0, 1.0, 2, 0.2, 1.4, why)));
  EXPECT_EQ(why, "too_few_pairs");
  EXPECT_TRUE(std::isnan(xi_in_range(NAN, NAN, 10, 0.2, 1.4, why)));
  EXPECT_EQ(why, "too_few_pairs");
}

TEST(CriticalLength, HalfLengthInterpolatesBetweenOccupiedBins) {
  const std::vector<double> edges{0, 0.5, 1.0, 1.5, 2.0};
  double ref = 0;
  std::string why;
  // Reference: bin 0 alone holds >= 5% of the pairs: 0.8; half is 0.4.
  // Bin 1 is empty: the line from (0.25, 0.8) to (1.25, 0.2) reaches 0.4 at 0.25 + 2/3.
  EXPECT_NEAR(half_stiffness_length(edges, {0.8, NAN, 0.2, 0.1}, {10, 0, 10, 10}, ref, why), 0.25 + 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(ref, 0.8);
  EXPECT_EQ(why, "crossed");
  // A small first bin (under 5% of the pairs) is pooled with the next.
  EXPECT_NEAR(half_stiffness_length(edges, {1.0, 0.6, 0.3, 0.1}, {1, 99, 100, 100}, ref, why),
              0.75 + 0.5 * (0.6 - 0.302) / (0.6 - 0.3), 1e-12);
  EXPECT_NEAR(ref, (1.0 * 1 + 0.6 * 99) / 100, 1e-12);
  // Never at half within the data: the upper end of the range, a lower bound.
  EXPECT_DOUBLE_EQ(half_stiffness_length(edges, {0.8, 0.7, 0.6, NAN}, {5, 5, 5, 0}, ref, why), 1.5);
  EXPECT_EQ(why, "stays_above_half");
  // Not positive even at the shortest distances: the lower end of the range.
  EXPECT_DOUBLE_EQ(half_stiffness_length(edges, {NAN, -0.1, 0.2, 0.1}, {0, 5, 5, 5}, ref, why), 0.5);
  EXPECT_EQ(why, "not_positive");
  EXPECT_TRUE(std::isnan(half_stiffness_length(edges, {NAN, NAN, NAN, NAN}, {0, 0, 0, 0}, ref, why)));
  EXPECT_EQ(why, "no_pairs");
}

TEST(CriticalLength, HalfLengthShrinksAsStiffnessBecomesLocal) {
  const std::vector<double> edges{0, 0.25, 0.5, 0.75, 1.0, 1.25};
  double ref = 0;
  std::string why;
  const std::vector<int64_t> n{10, 10, 10, 10, 10};
  const double broad = half_stiffness_length(edges, {0.9, 0.8, 0.6, 0.4, 0.3}, n, ref, why);
  const double local = half_stiffness_length(edges, {0.9, 0.3, 0.1, 0.0, 0.0}, n, ref, why);
  EXPECT_LT(local, broad);
}

TEST(CriticalLength, ReduceStoresTheRangeAndFlagsAnExtrapolatedXi) {
  // One class, four train examples; cosine = 0.9 - 0.1 d: a falling line
  // whose zero (d = 9) lies far outside the distances observed (0.25 .. 0.85).
  const std::vector<double> d{0.25, 0.45, 0.85, 0.35, 0.55, 0.65};  // pairs 01 02 03 12 13 23
  std::vector<double> K(16, 1.0), D(16, 0.0);
  int at = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j, ++at) {
      D[i * 4 + j] = D[j * 4 + i] = d[at];
      K[i * 4 + j] = K[j * 4 + i] = 0.9 - 0.1 * d[at];
    }
  ClassStiffnessAccumulator acc({0, 0, 0, 0}, std::vector<Split>(4, Split::train), 1, 20);
  acc.add_tile(0, 0, 4, 4, K.data(), {1, 1, 1, 1}, false, D.data());
  test_support::OneRank one;
  auto r = acc.reduce_distance(one)[kTrainTrain];
  EXPECT_NEAR(r.slope_cosine, -0.1, 1e-12);
  EXPECT_DOUBLE_EQ(r.fit_min, 0.2);  // bins of 0.1: the first occupied is [0.2, 0.3)
  EXPECT_DOUBLE_EQ(r.fit_max, 0.9);  // the last is [0.8, 0.9)
  EXPECT_TRUE(std::isnan(r.xi_linear_cosine));
  EXPECT_EQ(r.xi_linear_cosine_status, "no_crossing_in_range");
  EXPECT_EQ(r.xi_linear_sign_status, "slope_not_negative");  // every sign +1
  // The half length exists: the curve stays above half, so it is the range's end.
  EXPECT_DOUBLE_EQ(r.half_length_cosine, 0.9);
  EXPECT_EQ(r.half_length_cosine_status, "stays_above_half");
  EXPECT_NEAR(r.half_reference_cosine, 0.9 - 0.1 * 0.25, 1e-12);
}
