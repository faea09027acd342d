// sample_per_class: the fixed per-class sample of a split, its counts,
// order, determinism, uniformity and errors.

#include <gtest/gtest.h>

#include <algorithm>
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

// Labels for `classes` classes, class c having 20 + 3c examples, interleaved.
std::vector<int64_t> uneven_labels(int classes) {
  std::vector<int64_t> labels;
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < 20 + 3 * c; ++i) labels.push_back(c);
  // Deterministic interleaving so that classes are not contiguous.
  std::vector<int64_t> mixed(labels.size());
  const size_t n = labels.size();
  for (size_t i = 0; i < n; ++i) mixed[(i * 7919) % n] = labels[i];  // 7919 prime, coprime to n
  return mixed;
}

TEST(SamplePerClass, CountsAndOrder) {
  const int classes = 10;
  const auto labels = uneven_labels(classes);
  const auto s = stiffness::sample_per_class(labels, classes, 5, 42, "train set");
  ASSERT_EQ(s.size(), 50u);
  std::map<int64_t, int> per_class;
  for (size_t i = 0; i < s.size(); ++i) {
    ASSERT_GE(s[i], 0);
    ASSERT_LT(s[i], static_cast<int64_t>(labels.size()));
    ++per_class[labels[s[i]]];
    if (i > 0) {
      const auto prev = std::make_pair(labels[s[i - 1]], s[i - 1]);
      const auto cur = std::make_pair(labels[s[i]], s[i]);
      EXPECT_LT(prev, cur) << "not sorted by (class, index) at position " << i;
    }
  }
  EXPECT_EQ(per_class.size(), static_cast<size_t>(classes));
  for (const auto& [c, count] : per_class) EXPECT_EQ(count, 5) << "class " << c;
  // The classes come in order: positions [5c, 5c+5) hold class c.
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(labels[s[i]], static_cast<int64_t>(i / 5));
}

TEST(SamplePerClass, DeterministicPerSeed) {
  const auto labels = uneven_labels(10);
  const auto a = stiffness::sample_per_class(labels, 10, 7, 1234, "train set");
  const auto b = stiffness::sample_per_class(labels, 10, 7, 1234, "train set");
  const auto c = stiffness::sample_per_class(labels, 10, 7, 1235, "train set");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SamplePerClass, PinnedValues) {
  // The sample depends only on std::mt19937_64 (fully specified by the
  // standard) and our own Fisher-Yates, so it is the same with every compiler
  // and standard library. Pinned here so that a change to the algorithm, which
  // would silently change which examples earlier results measured, is seen.
  std::vector<int64_t> labels(30);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 3);
  const auto s = stiffness::sample_per_class(labels, 3, 2, 7, "train set");
  EXPECT_EQ(s, (std::vector<int64_t>{15, 21, 13, 25, 5, 23}));
}

TEST(SamplePerClass, WholeClassWhenExactlyEnough) {
  const auto labels = uneven_labels(4);  // class 0 has exactly 20 examples
  const auto s = stiffness::sample_per_class(labels, 4, 20, 9, "train set");
  std::vector<int64_t> class0;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == 0) class0.push_back(static_cast<int64_t>(i));
  EXPECT_EQ(std::vector<int64_t>(s.begin(), s.begin() + 20), class0);
}

TEST(SamplePerClass, Unbiased) {
  // Over many seeds, every example of a 10-example class is picked with
  // probability 3/10. A biased shuffle (e.g. swapping with j in [0, n) rather
  // than [i, n)) fails this.
  std::vector<int64_t> labels(10, 0);
  std::vector<int> picked(10, 0);
  const int trials = 4000;
  for (int seed = 0; seed < trials; ++seed)
    for (int64_t i : stiffness::sample_per_class(labels, 1, 3, static_cast<uint64_t>(seed), "train set"))
      ++picked[static_cast<size_t>(i)];
  for (int i = 0; i < 10; ++i) {
    // Expected 1200, standard deviation about 29.
    EXPECT_NEAR(picked[i], trials * 3 / 10, 150) << "example " << i;
  }
}

TEST(SamplePerClass, HundredClasses) {
  // CIFAR-100 sized: 100 classes of uneven size (30 + c % 17), interleaved;
  // 30 per class gives 3000 examples, sorted by (class, index), no repeats.
  std::vector<int64_t> labels;
  for (int round = 0; round < 47; ++round)
    for (int c = 0; c < 100; ++c)
      if (round < 30 + c % 17) labels.push_back(c);
  const auto s = stiffness::sample_per_class(labels, 100, 30, 2024, "train set");
  ASSERT_EQ(s.size(), 3000u);
  for (size_t i = 0; i < s.size(); ++i) {
    ASSERT_EQ(labels[static_cast<size_t>(s[i])], static_cast<int64_t>(i / 30)) << "position " << i;
    if (i % 30 != 0) EXPECT_LT(s[i - 1], s[i]) << "position " << i;
  }
  EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 3000u);
  EXPECT_EQ(s, stiffness::sample_per_class(labels, 100, 30, 2024, "train set"));
  EXPECT_NE(s, stiffness::sample_per_class(labels, 100, 30, 2025, "train set"));
  // Classes with exactly 30 examples (c % 17 == 0) are taken whole.
  std::vector<int64_t> class17;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == 17) class17.push_back(static_cast<int64_t>(i));
  ASSERT_EQ(class17.size(), 30u);
  EXPECT_EQ(std::vector<int64_t>(s.begin() + 17 * 30, s.begin() + 18 * 30), class17);
  // 31 per class is too many for class 0.
  expect_error([&] { stiffness::sample_per_class(labels, 100, 31, 1, "train set"); },
               {"train set: class 0 has 30 examples, 31 per class requested"});
}

TEST(SamplePerClass, Errors) {
  const auto labels = uneven_labels(5);
  expect_error([&] { stiffness::sample_per_class(labels, 5, 0, 1, "train set"); },
               {"train set: examples per class must be positive, got 0"});
  expect_error([&] { stiffness::sample_per_class(labels, 5, -3, 1, "train set"); },
               {"train set: examples per class must be positive, got -3"});

  // Class 3 with 12 examples, the others with 60.
  std::vector<int64_t> few;
  for (int c = 0; c < 5; ++c)
    for (int i = 0; i < (c == 3 ? 12 : 60); ++i) few.push_back(c);
  expect_error([&] { stiffness::sample_per_class(few, 5, 50, 1, "validation set"); },
               {"validation set: class 3 has 12 examples, 50 per class requested"});
  // A class with no example at all.
  expect_error([&] { stiffness::sample_per_class(few, 6, 1, 1, "train set"); },
               {"train set: class 5 has 0 examples, 1 per class requested"});
  // Labels outside [0, num_classes).
  expect_error([&] { stiffness::sample_per_class(few, 4, 1, 1, "train set"); },
               {"train set", "out of range", "found 4"});
}

TEST(SamplePerClass, HundredClassSynthetic) {
  // CIFAR-100 sized measurement: 30 per class of 100 classes, 3000 examples.
  stiffness::SyntheticSpec s;
  s.num_classes = 100;
  s.num_coarse = 20;
  s.height = s.width = 2;
  s.train_per_class = 45;
  s.val_per_class = 30;
  const DataSets d = stiffness::make_synthetic(s);
  const auto tr = stiffness::sample_per_class(d.train.labels, 100, 30, 1, "train set");
  const auto va = stiffness::sample_per_class(d.val.labels, 100, 30, 1, "validation set");
  ASSERT_EQ(tr.size(), 3000u);
  ASSERT_EQ(va.size(), 3000u);
  for (size_t i = 0; i < tr.size(); ++i) {
    EXPECT_EQ(d.train.labels[static_cast<size_t>(tr[i])], static_cast<int64_t>(i / 30));
    EXPECT_EQ(d.val.labels[static_cast<size_t>(va[i])], static_cast<int64_t>(i / 30));
  }
  EXPECT_EQ(std::set<int64_t>(tr.begin(), tr.end()).size(), 3000u);
}

}  // namespace
