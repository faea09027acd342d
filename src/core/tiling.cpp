#include "stiffness/tiling.hpp"

#include "stiffness/error.hpp"

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

}  // namespace stiffness
