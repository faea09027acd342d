#include "stiffness/analysis/tiling.hpp"

#include <algorithm>

#include "stiffness/runtime/error.hpp"

namespace stiffness {

Range block_range(int64_t n, int p, int r) {
  STIFF_CHECK(p > 0 && r >= 0 && r < p, "block_range: bad part index");
  const int64_t base = n / p;
  const int64_t extra = n % p;
  const int64_t begin = r * base + (r < extra ? r : extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

int ring_steps(int p) { return p / 2 + 1; }

int ring_source(int p, int r, int k) { return ((r - k) % p + p) % p; }

Tile ring_tile(int64_t n, int p, int r, int k) {
  STIFF_CHECK(k >= 0 && k < ring_steps(p), "ring_tile: bad step");
  Tile t;
  t.step = k;
  t.row = r;
  t.col = ring_source(p, r, k);
  t.rows = block_range(n, p, r);
  t.cols = block_range(n, p, t.col);
  if (p % 2 == 0 && k == p / 2) {
    // Shared last step: split the lower-ranked block of the pair in halves.
    Range& split = r < p / 2 ? t.rows : t.cols;
    const int64_t mid = split.begin + split.size() / 2;
    if (r < p / 2)
      split.end = mid;
    else
      split.begin = mid;
  }
  return t;
}

std::vector<Tile> ring_tiles(int64_t n, int p, int r) {
  std::vector<Tile> tiles;
  for (int k = 0; k < ring_steps(p); ++k) tiles.push_back(ring_tile(n, p, r, k));
  return tiles;
}

int64_t panel_height(int64_t width, int64_t budget) {
  STIFF_CHECK(budget >= 1, "panel_height: the budget must be at least one entry");
  const int64_t h = std::max<int64_t>(1, budget / std::max<int64_t>(width, 1));
  // Whole blocks of the fused Gram (256 rows, gram.cpp) where there is room:
  // a panel of 335 rows would run its last 79 in a quarter-full block.
  return h >= kPanelRowQuantum ? h / kPanelRowQuantum * kPanelRowQuantum : h;
}

std::vector<Range> tile_panels(const Tile& t, int64_t budget) {
  // The diagonal tile's first panel is its widest: size all panels by it.
  const int64_t h = panel_height(t.cols.size(), budget);
  std::vector<Range> panels;
  // Heights of whole 256-row blocks start at multiples of h (global row
  // numbers): the panels and their transposes then cover whole 256 x 256
  // chunks of the stored K (h5.hpp), but at the tile's edges.
  const bool aligned = h % kPanelRowQuantum == 0;
  for (int64_t a = t.rows.begin; a < t.rows.end;) {
    const int64_t e = std::min(t.rows.end, aligned ? (a / h + 1) * h : a + h);
    panels.push_back({a, e});
    a = e;
  }
  return panels;
}

double default_panel_mb(double node_mb, int ranks_on_node) {
  return std::clamp(node_mb / 8 / std::max(1, ranks_on_node), 64.0, 256.0);
}

int64_t panel_rounds(int64_t n, int p, int k, int64_t budget) {
  int64_t most = 0;
  for (int r = 0; r < p; ++r)
    most = std::max<int64_t>(most, static_cast<int64_t>(tile_panels(ring_tile(n, p, r, k), budget).size()));
  return most;
}

}  // namespace stiffness
