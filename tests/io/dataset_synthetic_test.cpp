// The synthetic generator: shapes, labels and super-classes, determinism,
// pinned values, the distribution of its normals and its class structure.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dataset_files.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness::test_support;
using stiffness::DataSets;

namespace {

double dist2(const ImageSet& s, int64_t i, int64_t j) {
  const int64_t D = s.example_size();
  double d = 0;
  for (int64_t k = 0; k < D; ++k) {
    const double t = s.pixels[static_cast<size_t>(i * D + k)] - s.pixels[static_cast<size_t>(j * D + k)];
    d += t * t;
  }
  return d;
}

TEST(Synthetic, ShapeLabelsAndCoarse) {
  stiffness::SyntheticSpec s;
  s.num_classes = 12;
  s.num_coarse = 4;
  s.channels = 2;
  s.height = 3;
  s.width = 5;
  s.train_per_class = 7;
  s.val_per_class = 3;
  const DataSets d = stiffness::make_synthetic(s);
  EXPECT_EQ(d.train.n, 84);
  EXPECT_EQ(d.val.n, 36);
  for (const ImageSet* set : {&d.train, &d.val}) {
    EXPECT_EQ(set->channels, 2);
    EXPECT_EQ(set->height, 3);
    EXPECT_EQ(set->width, 5);
    EXPECT_EQ(set->num_classes, 12);
    EXPECT_EQ(set->num_coarse, 4);
    ASSERT_EQ(set->pixels.size(), static_cast<size_t>(set->n * 30));
    ASSERT_EQ(set->labels.size(), static_cast<size_t>(set->n));
    ASSERT_EQ(set->coarse_labels.size(), static_cast<size_t>(set->n));
    for (int64_t i = 0; i < set->n; ++i) {
      EXPECT_EQ(set->labels[static_cast<size_t>(i)], i % 12);  // interleaved
      EXPECT_EQ(set->coarse_labels[static_cast<size_t>(i)], (i % 12) / 3);
    }
    EXPECT_NE(set->source.find("synthetic"), std::string::npos);
  }
  // Without super-classes: no coarse labels.
  s.num_coarse = 0;
  const DataSets e = stiffness::make_synthetic(s);
  EXPECT_TRUE(e.train.coarse_labels.empty());
  EXPECT_EQ(e.train.num_coarse, 0);
}

TEST(Synthetic, UnevenSuperClasses) {
  // 10 classes in 3 super-classes: sizes 4, 3, 3 (c * 3 / 10), none empty.
  stiffness::SyntheticSpec s;
  s.num_coarse = 3;
  s.train_per_class = 1;
  s.val_per_class = 1;
  const DataSets d = stiffness::make_synthetic(s);
  EXPECT_EQ(d.train.coarse_labels, (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}));
}

TEST(Synthetic, DeterministicPerSeed) {
  stiffness::SyntheticSpec s;
  s.num_coarse = 2;
  s.seed = 17;
  const DataSets a = stiffness::make_synthetic(s);
  const DataSets b = stiffness::make_synthetic(s);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.val.pixels, b.val.pixels);
  s.seed = 18;
  const DataSets c = stiffness::make_synthetic(s);
  EXPECT_NE(a.train.pixels, c.train.pixels);
  EXPECT_NE(a.val.pixels, c.val.pixels);
  // Train and validation come from separate streams: the validation set does
  // not depend on the size of the training set.
  s.seed = 17;
  s.train_per_class = 3;
  const DataSets e = stiffness::make_synthetic(s);
  EXPECT_EQ(e.val.pixels, a.val.pixels);
  EXPECT_EQ(std::vector<float>(a.train.pixels.begin(), a.train.pixels.begin() + 30 * 64), e.train.pixels);
}

TEST(Synthetic, PinnedValues) {
  // mt19937_64 is fully specified and Box-Muller is ours, so values depend
  // only on libm's log/sqrt/sin/cos (correct to within an ulp): pinned to
  // catch a change of the generator, which would silently change the data.
  stiffness::SyntheticSpec s;
  s.num_coarse = 2;
  s.seed = 5;
  s.train_per_class = 1;
  s.val_per_class = 1;
  const DataSets d = stiffness::make_synthetic(s);
  const std::vector<float> want_train = {-1.41283953f, -0.886529267f, 1.02142966f, 0.539075077f,
                                         -2.00854564f, 0.910817683f,  0.0993146673f, 0.199596524f};
  const std::vector<float> want_val = {0.181227192f, -0.599760175f, -0.943423629f, 2.31415129f,
                                       0.172368214f, 2.73694134f,   0.993251264f,  -0.678058147f};
  for (size_t i = 0; i < want_train.size(); ++i) EXPECT_NEAR(d.train.pixels[i], want_train[i], 1e-5) << i;
  for (size_t i = 0; i < want_val.size(); ++i) EXPECT_NEAR(d.val.pixels[i], want_val[i], 1e-5) << i;
}

TEST(Synthetic, NormalsAreStandard) {
  // With zero scales the examples are pure noise: mean 0, variance noise^2,
  // and about 68.3% within one standard deviation.
  stiffness::SyntheticSpec s;
  s.coarse_scale = 0;
  s.class_scale = 0;
  s.noise = 2.0;
  s.train_per_class = 500;  // 10 * 500 * 64 = 320000 draws
  const DataSets d = stiffness::make_synthetic(s);
  double sum = 0, sq = 0;
  int64_t within = 0;
  for (float v : d.train.pixels) {
    sum += v;
    sq += double(v) * v;
    within += std::fabs(v) < 2.0f;
  }
  const double n = static_cast<double>(d.train.pixels.size());
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 4.0, 0.05);
  EXPECT_NEAR(within / n, 0.6827, 0.005);
}

TEST(Synthetic, ClassAndSuperClassStructure) {
  stiffness::SyntheticSpec s;
  s.num_classes = 8;
  s.num_coarse = 2;
  s.train_per_class = 30;
  s.seed = 3;
  const ImageSet t = stiffness::make_synthetic(s).train;
  // Mean squared distance between examples: same class < same super-class,
  // other class < other super-class.
  double sum[3] = {0, 0, 0};
  int64_t cnt[3] = {0, 0, 0};
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t j = i + 1; j < t.n; ++j) {
      const size_t ui = static_cast<size_t>(i), uj = static_cast<size_t>(j);
      const int k = t.labels[ui] == t.labels[uj] ? 0 : t.coarse_labels[ui] == t.coarse_labels[uj] ? 1 : 2;
      sum[k] += dist2(t, i, j);
      ++cnt[k];
    }
  const double within = sum[0] / cnt[0], same_super = sum[1] / cnt[1], other_super = sum[2] / cnt[2];
  // Expected: 2D noise^2 = 128, 2D (noise^2 + class^2) = 160 and
  // 2D (noise^2 + class^2 + coarse^2) = 288 for D = 64 (only roughly: the
  // prototypes are random).
  EXPECT_LT(within, same_super);
  EXPECT_LT(same_super, other_super);
  EXPECT_NEAR(within, 128.0, 10.0);

  // Nearest class mean classifies held-out examples well.
  const ImageSet v = stiffness::make_synthetic(s).val;
  const int64_t D = t.example_size();
  std::vector<double> mean(static_cast<size_t>(8 * D), 0.0);
  for (int64_t i = 0; i < t.n; ++i)
    for (int64_t k = 0; k < D; ++k)
      mean[static_cast<size_t>(t.labels[static_cast<size_t>(i)] * D + k)] += t.pixels[static_cast<size_t>(i * D + k)] / 30.0;
  int correct = 0;
  for (int64_t i = 0; i < v.n; ++i) {
    int64_t best = -1;
    double best_d = 1e300;
    for (int64_t c = 0; c < 8; ++c) {
      double dd = 0;
      for (int64_t k = 0; k < D; ++k) {
        const double t2 = v.pixels[static_cast<size_t>(i * D + k)] - mean[static_cast<size_t>(c * D + k)];
        dd += t2 * t2;
      }
      if (dd < best_d) best_d = dd, best = c;
    }
    correct += best == v.labels[static_cast<size_t>(i)];
  }
  EXPECT_GT(correct, v.n * 8 / 10);
}

TEST(Synthetic, Errors) {
  stiffness::SyntheticSpec s;
  s.num_coarse = 11;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "super-classes", "11"});
  s.num_coarse = 0;
  s.num_classes = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "classes", "got 0"});
  s.num_classes = 10;
  s.height = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "shape", "1x0x8"});
  s.height = 8;
  s.val_per_class = 0;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "per class"});
  s.val_per_class = 1;
  s.noise = -1;
  expect_error([&] { stiffness::make_synthetic(s); }, {"synthetic", "noise"});
}

}  // namespace
