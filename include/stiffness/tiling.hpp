// Index and tiling maths: which rank owns which examples, and which tiles of
// the symmetric N x N matrix each rank computes at each ring step. Pure
// functions, free of MPI, so that they are tested alone (tests/unit).
#pragma once

#include <cstdint>
#include <vector>

namespace stiffness {

// Half-open range [begin, end) of example indices.
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range& o) const { return begin == o.begin && end == o.end; }
};

// Split n items over p parts as evenly as possible: the first n % p parts get
// one extra item. Part `r` of `p`.
Range block_range(int64_t n, int p, int r);

// One tile of the ring schedule: rank `row` computes K[row block, col block]
// at ring step `step`, using the block it received from rank `col`.
struct Tile {
  int step = 0;
  int row = 0;  // owning rank of the rows (the rank computing the tile)
  int col = 0;  // owning rank of the columns (the travelling block)
};

// Number of ring shifts needed to cover every unordered pair of blocks once:
// floor(P/2) shifts after the local (diagonal) step 0.
int ring_steps(int p);

// Rank whose block rank `r` holds at ring step `k`: (r - k) mod p.
int ring_source(int p, int r, int k);

// Whether rank `r` computes a tile at step `k`. Always true except at the
// last step for even p, where the pair {r, r + p/2} would be seen twice; only
// the lower half (r < p/2) computes it.
bool ring_computes(int p, int r, int k);

// All tiles rank `r` computes, in step order.
std::vector<Tile> ring_tiles(int p, int r);

}  // namespace stiffness
