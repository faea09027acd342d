// Tiling maths: block partition of the examples over ranks, and the ring
// schedule that must compute every tile of the symmetric N x N matrix once.

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace {

using stiffness::block_range;
using stiffness::default_panel_mb;
using stiffness::Range;
using stiffness::ring_tile;
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

TEST(Ring, SharedLastStepSplitsThePairInHalves) {
  // p = 4, n = 10: blocks 3, 3, 2, 2. Step 2 pairs {0, 2} and {1, 3}.
  const Tile t0 = ring_tile(10, 4, 0, 2), t2 = ring_tile(10, 4, 2, 2);
  EXPECT_EQ(t0.rows, (Range{0, 1}));  // first half of B0 ...
  EXPECT_EQ(t0.cols, (Range{6, 8}));  // ... against B2
  EXPECT_EQ(t2.rows, (Range{6, 8}));  // B2 ...
  EXPECT_EQ(t2.cols, (Range{1, 3}));  // ... against the second half of B0
  const Tile t1 = ring_tile(10, 4, 1, 2), t3 = ring_tile(10, 4, 3, 2);
  EXPECT_EQ(t1.rows, (Range{3, 4}));
  EXPECT_EQ(t3.cols, (Range{4, 6}));
  // Odd p: whole tiles at every step.
  const Tile u = ring_tile(10, 3, 0, 1);
  EXPECT_EQ(u.rows, block_range(10, 3, 0));
  EXPECT_EQ(u.cols, block_range(10, 3, 2));
}

TEST(Ring, EveryPairOfExamplesExactlyOnce) {
  for (int p = 1; p <= 9; ++p) {
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{p - 1 > 0 ? p - 1 : 0}, int64_t{p}, int64_t{2 * p + 1},
                      int64_t{37}}) {
      SCOPED_TRACE("p=" + std::to_string(p) + " n=" + std::to_string(n));
      std::vector<int> seen(static_cast<size_t>(n * n), 0);
      int64_t min_work = INT64_MAX, max_work = 0;
      for (int r = 0; r < p; ++r) {
        const std::vector<Tile> tiles = ring_tiles(n, p, r);
        EXPECT_EQ(static_cast<int>(tiles.size()), ring_steps(p));
        int64_t work = 0;
        for (size_t i = 0; i < tiles.size(); ++i) {
          const Tile& t = tiles[i];
          EXPECT_EQ(t.step, static_cast<int>(i));
          EXPECT_EQ(t.row, r);
          EXPECT_EQ(t.col, ring_source(p, r, t.step)) << "tile uses a block rank " << r << " does not hold";
          // Rows from this rank's block, columns from the block it holds.
          const Range mine = block_range(n, p, r), held = block_range(n, p, t.col);
          EXPECT_TRUE(t.rows.begin >= mine.begin && t.rows.end <= mine.end);
          EXPECT_TRUE(t.cols.begin >= held.begin && t.cols.end <= held.end);
          for (int64_t a = t.rows.begin; a < t.rows.end; ++a)
            for (int64_t b = t.cols.begin; b < t.cols.end; ++b) {
              ++seen[a * n + b];
              if (t.step > 0) ++seen[b * n + a];  // the transpose
            }
          work += t.step == 0 ? t.rows.size() * (t.rows.size() + 1) / 2 : t.rows.size() * t.cols.size();
        }
        min_work = std::min(min_work, work);
        max_work = std::max(max_work, work);
      }
      for (int64_t i = 0; i < n * n; ++i) ASSERT_EQ(seen[i], 1) << "entry (" << i / n << ", " << i % n << ")";
      // Balanced: pairs per rank differ by about one row of a block per step
      // (block sizes differ by one), not by a whole tile.
      if (n >= 2 * p)
        EXPECT_LE(max_work - min_work, 2 * (n / p + 1) * ring_steps(p)) << min_work << " " << max_work;
    }
  }
}

TEST(Ring, SingleRankHasOnlyTheDiagonal) {
  const auto tiles = ring_tiles(7, 1, 0);
  ASSERT_EQ(tiles.size(), 1u);
  EXPECT_EQ(tiles[0].step, 0);
  EXPECT_EQ(tiles[0].rows, (Range{0, 7}));
  EXPECT_EQ(tiles[0].cols, (Range{0, 7}));
}

}  // namespace

// Row panels (streaming): for every budget, the panels of all ranks' tiles
// cover every entry of K exactly once (a diagonal tile's panel: its square
// once, its rectangle and that rectangle's mirror), no panel holds more than
// the budget unless one row is already wider, and panel_rounds is the most
// panels any rank has at a step.
TEST(Panels, EveryEntryOnceWithinBudget) {
  using stiffness::panel_height;
  using stiffness::panel_rounds;
  using stiffness::tile_panels;
  for (int p = 1; p <= 5; ++p)
    for (int64_t n : {int64_t{1}, int64_t{p}, int64_t{2 * p + 1}, int64_t{23}})
      for (int64_t budget : {int64_t{1}, int64_t{5}, int64_t{17}, int64_t{1} << 40}) {
        SCOPED_TRACE("p=" + std::to_string(p) + " n=" + std::to_string(n) + " budget=" + std::to_string(budget));
        std::vector<int> seen(static_cast<size_t>(n * n), 0);
        for (int k = 0; k < ring_steps(p); ++k) {
          int64_t most = 0;
          for (int r = 0; r < p; ++r) {
            const Tile t = ring_tile(n, p, r, k);
            const auto panels = tile_panels(t, budget);
            most = std::max<int64_t>(most, static_cast<int64_t>(panels.size()));
            int64_t next = t.rows.begin;
            for (const Range& rows : panels) {
              EXPECT_EQ(rows.begin, next) << "panels in order, without gaps";
              next = rows.end;
              const int64_t c0 = k == 0 ? rows.begin : t.cols.begin;
              const int64_t entries = rows.size() * (t.cols.end - c0);
              EXPECT_TRUE(entries <= budget || rows.size() == 1) << entries << " entries";
              for (int64_t a = rows.begin; a < rows.end; ++a)
                for (int64_t b = c0; b < t.cols.end; ++b) {
                  ++seen[a * n + b];
                  // Off-diagonal tiles and a diagonal panel's rectangle stand for their mirror.
                  if (k > 0 || b >= rows.end) ++seen[b * n + a];
                }
            }
            EXPECT_EQ(next, t.rows.end);
          }
          EXPECT_EQ(panel_rounds(n, p, k, budget), most);
        }
        for (int64_t i = 0; i < n * n; ++i) ASSERT_EQ(seen[i], 1) << "entry (" << i / n << ", " << i % n << ")";
      }
  EXPECT_EQ(panel_height(10, 35), 3);
  EXPECT_EQ(panel_height(100, 35), 1);
  EXPECT_EQ(panel_height(1000, 335000), 256);  // whole 256-row blocks when there is room
  EXPECT_EQ(panel_height(1000, 600000), 512);
  EXPECT_EQ(panel_height(1000, 255000), 255);
  EXPECT_THROW(panel_height(10, 0), stiffness::Error);
}

// An eighth of the node per rank, within [64, 256] MB.
TEST(PanelBudget, DefaultFromNodeMemory) {
  EXPECT_DOUBLE_EQ(default_panel_mb(24000, 2), 256.0);
  EXPECT_DOUBLE_EQ(default_panel_mb(2048, 2), 128.0);
  EXPECT_DOUBLE_EQ(default_panel_mb(1024, 0), 128.0);  // no rank count: one rank
  EXPECT_DOUBLE_EQ(default_panel_mb(1000, 16), 64.0);
}
