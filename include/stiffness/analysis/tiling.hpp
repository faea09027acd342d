// Index and tiling maths: which rank owns which examples, and which tiles of
// the symmetric N x N matrix each rank computes at each ring step. Pure
// functions, free of MPI, so that they are tested alone (tests/analysis).
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

// One tile of the ring schedule: at ring step `step`, rank `row` computes
// K[rows, cols] from its own block (rows) and the block it received from
// rank `col` (cols). Off-diagonal tiles (step > 0) stand for their
// transposes too.
struct Tile {
  int step = 0;
  int row = 0;  // the computing rank, owner of the rows
  int col = 0;  // owner of the columns (the travelling block)
  Range rows, cols;  // global example ranges
};

// Number of ring shifts needed to cover every unordered pair of blocks once:
// floor(P/2) shifts after the local (diagonal) step 0.
int ring_steps(int p);

// Rank whose block rank `r` holds at ring step `k`: (r - k) mod p.
int ring_source(int p, int r, int k);

// The tile rank `r` computes at step `k` for n examples. Every rank computes
// at every step. At the last step of an even p the pair {r, r + p/2} is held
// by both ranks, so they share it: rank r < p/2 takes the first half of its
// own rows against B_(r+p/2), rank r + p/2 takes its rows against the second
// half of B_r (a transposed piece). Each pair of examples is still computed
// once, and no rank idles while the other computes a whole tile.
Tile ring_tile(int64_t n, int p, int r, int k);

// All tiles rank `r` computes, in step order.
std::vector<Tile> ring_tiles(int64_t n, int p, int r);

// Row panels: a tile is computed, analysed and written a few rows at a time,
// so that a rank never holds more of K than one panel, whatever N is. A
// panel of tile t is rows [a, b) of t.rows against
//   - every column of t.cols, for an off-diagonal tile (its transpose is the
//     mirrored part of K), or
//   - the columns [a, t.cols.end), for the diagonal tile (step 0): the
//     square [a, b) x [a, b) is symmetric on its own, the rectangle right of
//     it stands for its mirror below. Together the panels cover the tile's
//     upper triangle once.
// `budget` is the number of K entries a panel may hold (>= 1).

// Rows per panel of a tile `width` columns wide: budget / width, at least 1,
// rounded down to a multiple of kPanelRowQuantum when at least that.
constexpr int64_t kPanelRowQuantum = 256;
int64_t panel_height(int64_t width, int64_t budget);

// The row ranges (global indices) of tile t's panels, in order.
std::vector<Range> tile_panels(const Tile& t, int64_t budget);

// The number of panels the busiest rank has at ring step k. Every rank takes
// part in that many collective writes at step k (a rank whose panels are
// done writes an empty selection), so all ranks stay in lockstep without
// exchanging a message.
int64_t panel_rounds(int64_t n, int p, int k, int64_t budget);

// The default panel budget in MB: an eighth of the node's memory shared by
// the ranks on it, at least 64 MB (smaller panels make the GEMMs inefficient)
// and at most 256 MB: larger ones gained no speed and cost memory (each
// fresh panel is new pages the kernel must zero; docs/benchmarks.md, "Scale
// in N").
double default_panel_mb(double node_mb, int ranks_on_node);

}  // namespace stiffness
