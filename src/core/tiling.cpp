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

bool ring_computes(int p, int r, int k) {
  if (p % 2 == 0 && k == p / 2) return r < p / 2;
  return true;
}

std::vector<Tile> ring_tiles(int p, int r) {
  std::vector<Tile> tiles;
  for (int k = 0; k < ring_steps(p); ++k) {
    if (k > 0 && p == 1) break;
    if (ring_computes(p, r, k)) tiles.push_back({k, r, ring_source(p, r, k)});
  }
  return tiles;
}

}  // namespace stiffness
