// Tiling maths: block partition of the examples over ranks, and the ring
// schedule that must compute every tile of the symmetric N x N matrix once.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "stiffness/error.hpp"
#include "stiffness/tiling.hpp"

namespace {

using stiffness::block_range;
using stiffness::Range;
using stiffness::ring_computes;
using stiffness::ring_source;
using stiffness::ring_steps;
using stiffness::ring_tiles;
using stiffness::Tile;

void check_partition(int64_t n, int p) {
  SCOPED_TRACE("n=" + std::to_string(n) + " p=" + std::to_string(p));
  int64_t expect_begin = 0;
  int64_t lo = n + 1, hi = -1;
  for (int r = 0; r < p; ++r) {
    const Range b = block_range(n, p, r);
    ASSERT_EQ(b.begin, expect_begin) << "gap or overlap before part " << r;
    ASSERT_GE(b.size(), 0) << "part " << r;
    // The first n % p parts get the extra item: sizes never increase.
    if (r > 0) {
      EXPECT_LE(b.size(), block_range(n, p, r - 1).size()) << "part " << r;
    }
    lo = std::min(lo, b.size());
    hi = std::max(hi, b.size());
    expect_begin = b.end;
  }
  EXPECT_EQ(expect_begin, n) << "parts do not end at n";
  EXPECT_LE(hi - lo, 1) << "part sizes differ by more than one";
  EXPECT_EQ(lo, n / p);
}

TEST(BlockRange, CoversWithoutGapsOrOverlaps) {
  for (int64_t n = 0; n <= 60; ++n)
    for (int p = 1; p <= 16; ++p) check_partition(n, p);  // includes n < p
  for (int64_t n : {999, 1000, 1001, 60000, 123457}) {
    for (int p : {1, 2, 3, 7, 10, 64, 97}) check_partition(n, p);
  }
  // Large n, where a 32-bit intermediate would overflow.
  check_partition(int64_t{5'000'000'011}, 7);
  check_partition(int64_t{5'000'000'011}, 1024);
}

TEST(BlockRange, SmallCases) {
  EXPECT_EQ(block_range(10, 1, 0), (Range{0, 10}));
  EXPECT_EQ(block_range(10, 3, 0), (Range{0, 4}));
  EXPECT_EQ(block_range(10, 3, 1), (Range{4, 7}));
  EXPECT_EQ(block_range(10, 3, 2), (Range{7, 10}));
  EXPECT_EQ(block_range(2, 4, 1), (Range{1, 2}));
  EXPECT_EQ(block_range(2, 4, 2), (Range{2, 2}));
  EXPECT_EQ(block_range(2, 4, 3), (Range{2, 2}));
}

TEST(BlockRange, BadArguments) {
  EXPECT_THROW(block_range(10, 0, 0), stiffness::Error);
  EXPECT_THROW(block_range(10, 3, 3), stiffness::Error);
  EXPECT_THROW(block_range(10, 3, -1), stiffness::Error);
}

TEST(Ring, Steps) {
  for (int p = 1; p <= 16; ++p) EXPECT_EQ(ring_steps(p), p / 2 + 1) << "p=" << p;
}

TEST(Ring, SourceMatchesRingShift) {
  // Simulate the ring: at each step every rank passes the block it holds to
  // rank r + 1, so at step k rank r holds the block that started on r - k.
  for (int p = 1; p <= 12; ++p) {
    std::vector<int> held(p);
    for (int r = 0; r < p; ++r) held[r] = r;
    for (int k = 0; k <= 2 * p + 1; ++k) {
      for (int r = 0; r < p; ++r)
        ASSERT_EQ(ring_source(p, r, k), held[r]) << "p=" << p << " r=" << r << " k=" << k;
      std::vector<int> next(p);
      for (int r = 0; r < p; ++r) next[(r + 1) % p] = held[r];
      held = next;
    }
  }
}

TEST(Ring, ComputesSkipsOnlyTheDuplicateHalfStep) {
  for (int p = 1; p <= 12; ++p) {
    for (int k = 0; k < ring_steps(p); ++k) {
      for (int r = 0; r < p; ++r) {
        const bool duplicate_half = p % 2 == 0 && k == p / 2 && r >= p / 2;
        EXPECT_EQ(ring_computes(p, r, k), !duplicate_half) << "p=" << p << " r=" << r << " k=" << k;
      }
    }
  }
}

TEST(Ring, EveryPairExactlyOnce) {
  for (int p = 1; p <= 9; ++p) {
    SCOPED_TRACE("p=" + std::to_string(p));
    std::map<std::pair<int, int>, int> seen;
    size_t min_tiles = 1000, max_tiles = 0;
    for (int r = 0; r < p; ++r) {
      const std::vector<Tile> tiles = ring_tiles(p, r);
      min_tiles = std::min(min_tiles, tiles.size());
      max_tiles = std::max(max_tiles, tiles.size());
      int last_step = -1;
      for (const Tile& t : tiles) {
        EXPECT_EQ(t.row, r);
        EXPECT_GT(t.step, last_step) << "tiles not in step order on rank " << r;
        last_step = t.step;
        EXPECT_GE(t.step, 0);
        EXPECT_LT(t.step, ring_steps(p));
        EXPECT_EQ(t.col, ring_source(p, r, t.step)) << "tile uses a block rank " << r << " does not hold";
        EXPECT_TRUE(ring_computes(p, r, t.step));
        ++seen[{std::min(t.row, t.col), std::max(t.row, t.col)}];
      }
    }
    for (int a = 0; a < p; ++a)
      for (int b = a; b < p; ++b) EXPECT_EQ((seen[{a, b}]), 1) << "pair {" << a << ", " << b << "}";
    EXPECT_EQ(seen.size(), static_cast<size_t>(p * (p + 1) / 2));
    // Work is balanced: tile counts differ by at most one between ranks.
    EXPECT_LE(max_tiles - min_tiles, 1u);
  }
}

TEST(Ring, SingleRankHasOnlyTheDiagonal) {
  const auto tiles = ring_tiles(1, 0);
  ASSERT_EQ(tiles.size(), 1u);
  EXPECT_EQ(tiles[0].step, 0);
  EXPECT_EQ(tiles[0].row, 0);
  EXPECT_EQ(tiles[0].col, 0);
}

}  // namespace
