// The fixed measurement sample: per-class choice by seed, reproducible on
// every standard library.
#include <random>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_detail.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace {

// Unbiased integer in [0, range) from the 64-bit Mersenne Twister. Written out
// (rather than std::uniform_int_distribution, whose algorithm differs between
// standard libraries) so that a seed gives the same sample everywhere.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t range) {
  // 2^64 mod range: rejecting raw values below it leaves a multiple of
  // `range` equally likely values.
  const uint64_t threshold = (uint64_t{0} - range) % range;
  uint64_t x;
  do {
    x = rng();
  } while (x < threshold);
  return x % range;
}

}  // namespace


std::vector<int64_t> sample_per_class(const std::vector<int64_t>& labels, int64_t num_classes,
                                      int64_t per_class, uint64_t seed, const std::string& what) {
  STIFF_CHECK(per_class > 0,
              what + ": examples per class must be positive, got " + std::to_string(per_class));
  STIFF_CHECK(num_classes > 0,
              what + ": number of classes must be positive, got " + std::to_string(num_classes));

  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t y = labels[i];
    STIFF_CHECK(y >= 0 && y < num_classes, what + ": label out of range at index " + std::to_string(i) +
                                               ": expected [0, " + std::to_string(num_classes) +
                                               "), found " + std::to_string(y));
    by_class[static_cast<size_t>(y)].push_back(static_cast<int64_t>(i));
  }
  for (int64_t c = 0; c < num_classes; ++c) {
    const int64_t have = static_cast<int64_t>(by_class[static_cast<size_t>(c)].size());
    STIFF_CHECK(have >= per_class, what + ": class " + std::to_string(c) + " has " + std::to_string(have) +
                                       " examples, " + std::to_string(per_class) +
                                       " per class requested");
  }

  // One generator, consumed class by class in class order, so the whole
  // sample is a function of (labels, num_classes, per_class, seed).
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_classes * per_class));
  for (auto& idx : by_class) {
    // Partial Fisher-Yates: after step i, idx[0..i] is a uniform random
    // i+1-subset (in random order) of the class's indices.
    const uint64_t n = idx.size();
    for (uint64_t i = 0; i < static_cast<uint64_t>(per_class); ++i) {
      const uint64_t j = i + uniform_below(rng, n - i);
      std::swap(idx[i], idx[j]);
    }
    std::sort(idx.begin(), idx.begin() + per_class);
    out.insert(out.end(), idx.begin(), idx.begin() + per_class);
  }
  return out;
}

}  // namespace stiffness
