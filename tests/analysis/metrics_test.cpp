#include <gtest/gtest.h>

#include <cmath>

#include "one_rank.hpp"
#include "stiffness/analysis/metrics.hpp"

using namespace stiffness;

TEST(Metrics, CosineAndSign) {
  EXPECT_DOUBLE_EQ(cosine_of(2, 4, 1), 1.0);
  EXPECT_DOUBLE_EQ(cosine_of(1, 0, 1), 0.0);
  EXPECT_EQ(sign_of(-3), -1.0);
  EXPECT_EQ(sign_of(0), 0.0);
}


TEST(Metrics, ClassMatricesByHand) {
  // 4 examples: 0,1 train (classes 0,1), 2,3 val (classes 0,1).
  //   K = [[ 4,  2, -1,  0],
  //        [ 2,  1,  1, -2],
  //        [-1,  1,  9,  3],
  //        [ 0, -2,  3,  4]]
  std::vector<double> K{4, 2, -1, 0, 2, 1, 1, -2, -1, 1, 9, 3, 0, -2, 3, 4};
  std::vector<double> diag{4, 1, 9, 4};
  ClassStiffnessAccumulator acc({0, 1, 0, 1}, {Split::train, Split::train, Split::val, Split::val}, 2);
  acc.add_tile(0, 0, 4, 4, K.data(), diag, false);
  test_support::OneRank self;
  auto r = acc.reduce(self);
  const auto& tt = r[kTrainTrain];
  // train-train: only (0,1) and (1,0), both cos = 2 / sqrt(4*1) = 1.
  EXPECT_EQ(tt.pairs, (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_TRUE(std::isnan(tt.cosine[0]));
  EXPECT_DOUBLE_EQ(tt.cosine[1], 1.0);
  EXPECT_DOUBLE_EQ(tt.between_cosine, 1.0);
  EXPECT_TRUE(std::isnan(tt.within_cosine));
  const auto& tv = r[kTrainVal];
  // train-val: (0,2) cos -1/6, (0,3) 0, (1,2) 1/3, (1,3) -2/2 = -1.
  EXPECT_DOUBLE_EQ(tv.cosine[0], -1.0 / 6);
  EXPECT_DOUBLE_EQ(tv.cosine[1], 0.0);
  EXPECT_DOUBLE_EQ(tv.cosine[2], 1.0 / 3);
  EXPECT_DOUBLE_EQ(tv.cosine[3], -1.0);
  EXPECT_DOUBLE_EQ(tv.sign[1], 0.0);
  EXPECT_DOUBLE_EQ(tv.within_cosine, (-1.0 / 6 - 1.0) / 2);
  EXPECT_DOUBLE_EQ(tv.between_cosine, (0.0 + 1.0 / 3) / 2);
  EXPECT_DOUBLE_EQ(tv.within_sign, -1.0);
  const auto& vv = r[kValVal];
  EXPECT_DOUBLE_EQ(vv.cosine[1], 3.0 / 6);
  EXPECT_EQ(vv.pairs[1], 1);
}
