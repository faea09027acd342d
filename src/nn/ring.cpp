// Worked example, P = 4 ranks, blocks B0..B3 (rank r owns B_r), N = 10 so
// the blocks hold 3, 3, 2, 2 examples (block_range gives the first N % P
// ranks one extra). Every step each rank sends the block it holds to r + 1
// and receives from r - 1; the next block is in flight while the current
// tile is computed.
//
//   step 0:  rank0 holds B0  rank1 B1  rank2 B2  rank3 B3   -> tiles (0,0) (1,1) (2,2) (3,3)
//   step 1:  rank0 holds B3  rank1 B0  rank2 B1  rank3 B2   -> tiles (0,3) (1,0) (2,1) (3,2)
//   step 2:  rank0 holds B2  rank1 B3  rank2 B0  rank3 B1   -> the pairs {0,2} and {1,3} are
//            held twice, so each is shared (ring_tile): rank0 computes K[first half of B0, B2]
//            = K[0:1, 6:8], rank2 computes K[B2, second half of B0] = K[6:8, 1:3]; likewise
//            rank1 K[3:4, 8:10] and rank3 K[8:10, 4:6]. No rank idles.
//
// 4 diagonal tiles + 6 off-diagonal block pairs = P(P+1)/2 = 10: each
// unordered pair of examples once, after floor(P/2) = 2 shifts. An
// off-diagonal tile K[r, s] is written to the file together with its
// transpose K[s, r] (K is symmetric). For odd P every step has whole tiles;
// for P = 1 there is no shift.
//
// Panels, same example with a budget of 4 entries (tile_panels): rank0's
// diagonal tile B0 x B0 (3 x 3) goes in panels of 4 / 3 = 1 row: row 0
// against columns 0..2 (square [0,1) and the mirrored rectangle [0,1) x
// [1,3)), row 1 against 1..2, row 2 against 2; rank2's 2 x 2 tile in panels
// of 2 rows: rows 6..7 against 6..7, one panel. At step 0 the busiest rank
// has 3 panels, so every rank goes through 3 rounds (panel_rounds), rank2 and
// rank3 with an empty round after their one panel: a collective write per
// round then finds every rank there.
#include "stiffness/nn/ring.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace {

DType comm_dtype(const torch::Tensor& t) {
  if (t.scalar_type() == torch::kFloat32) return DType::f32;
  if (t.scalar_type() == torch::kFloat64) return DType::f64;
  STIFF_THROW("ring: gradient blocks must be float32 or float64");
}

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Every rank's K_ii (`mine`: this rank's block, float64 on any device), on
// every rank: N numbers, where a GPU rank's diagonal meets the host.
std::vector<double> gather_diagonal(Communicator& comm, const torch::Tensor& mine, int64_t n_total) {
  const int P = comm.size();
  auto kd = mine.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<int64_t> counts(P);
  for (int q = 0; q < P; ++q) counts[q] = block_range(n_total, P, q).size();
  std::vector<double> all(n_total);
  comm.allgatherv(kd.data_ptr<double>(), all.data(), counts, DType::f64);
  return all;
}

}  // namespace

std::vector<double> gram_diagonal_all(Communicator& comm, const GradPlan& plan, const GradBlock& local,
                                      int64_t n_total) {
  STIFF_CHECK(local.n == block_range(n_total, comm.size(), comm.rank()).size(),
              "ring: local block has the wrong number of examples");
  // Symmetric tiles of 64 examples along the block's diagonal: 64 N D
  // multiply-adds in all, under 0.3 % of the Gram's N^2 D / 2 at N = 50000.
  constexpr int64_t kChunk = 64;
  std::vector<torch::Tensor> pieces;
  for (int64_t i = 0; i < local.n; i += kChunk) {
    const auto c = slice_block(local, i, std::min(local.n, i + kChunk));
    pieces.push_back(gram_tile(plan, c, c, /*symmetric=*/true).diagonal());
  }
  return gather_diagonal(comm, pieces.empty() ? torch::zeros({0}, torch::kFloat64) : torch::cat(pieces), n_total);
}

RingStats ring_panels(Communicator& comm, const GradPlan& plan, const GradBlock& local, int64_t n_total,
                      int64_t budget, std::function<void(const std::vector<GramTile>&)> sink,
                      const torch::Tensor& packed) {
  FunctionSink one(std::move(sink));
  return ring_panels(comm, plan, local, n_total, budget, {&one}, packed);
}

RingStats ring_panels(Communicator& comm, const GradPlan& plan, const GradBlock& local, int64_t n_total,
                      int64_t budget, const std::vector<PanelSink*>& sinks, const torch::Tensor& packed) {
  const int P = comm.size(), r = comm.rank();
  const Range mine = block_range(n_total, P, r);
  STIFF_CHECK(local.n == mine.size(), "ring: local block has the wrong number of examples");
  RingStats res;
  const auto shapes = part_shapes(local);
  torch::Tensor cur = packed.defined() ? packed : pack(local);  // the block in hand, as one buffer
  const DType dt = comm_dtype(cur);
  GradBlock held = local;
  auto own = [&](Range rows) { return slice_block(local, rows.begin - mine.begin, rows.end - mine.begin); };

  const int steps = ring_steps(P);
  for (int k = 0; k < steps; ++k) {
    // Double buffering: post the shift that brings the NEXT step's block
    // (from r - 1) and passes ours on (to r + 1) before computing this
    // step's panels, so the transfer overlaps the arithmetic (and the writes).
    std::unique_ptr<PendingShift> shift;
    torch::Tensor next;
    int64_t n_next = 0;
    if (k + 1 < steps) {
      n_next = block_range(n_total, P, ring_source(P, r, k + 1)).size();
      next = torch::empty({packed_numel(shapes, n_next)}, cur.options());
      shift = comm.start_shift(cur.data_ptr(), cur.numel(), (r + 1) % P, next.data_ptr(),
                               next.numel(), (r - 1 + P) % P, dt);
      res.bytes_sent += cur.numel() * cur.element_size();
    }
    const Tile t = ring_tile(n_total, P, r, k);
    const Range held_range = block_range(n_total, P, t.col);
    const GradBlock cols = slice_block(held, t.cols.begin - held_range.begin, t.cols.end - held_range.begin);
    const auto panels = tile_panels(t, budget);
    // Every rank runs the busiest rank's number of rounds, handing the sinks
    // an empty round when it has no panel left (PanelSink, ring.hpp).
    const int64_t rounds = panel_rounds(n_total, P, k, budget);
    for (int64_t j = 0; j < rounds; ++j) {
      std::vector<GramTile> pieces;
      const double t0 = now();
      if (j < static_cast<int64_t>(panels.size())) {
        const Range rows = panels[j];
        const GradBlock a = own(rows);
        if (k == 0) {
          // Diagonal tile: the panel's square (symmetric, half the work) and
          // the rectangle right of it, which stands for its mirror below.
          pieces.push_back({rows, rows, gram_tile(plan, a, a, /*symmetric=*/true), false});
          const Range right{rows.end, t.cols.end};
          if (right.size() > 0) pieces.push_back({rows, right, gram_tile(plan, a, own(right)), true});
        } else {
          pieces.push_back({rows, t.cols, gram_tile(plan, a, cols), true});
        }
        ++res.panels;
      }
      const double t1 = now();
      res.compute_seconds += t1 - t0;
      for (PanelSink* sink : sinks) sink->round(pieces);
      res.sink_seconds += now() - t1;
    }
    if (shift) {
      const double tw = now();
      shift->wait();
      res.wait_seconds += now() - tw;
      cur = next;
      held = unpack(cur, n_next, shapes);
    }
  }
  return res;
}

RingResult ring_gram(Communicator& comm, const GradPlan& plan, const GradBlock& local, int64_t n_total) {
  RingResult res;
  // An unbounded budget: every tile is one panel.
  const auto stats = ring_panels(comm, plan, local, n_total, std::numeric_limits<int64_t>::max() / 4,
                                 [&](const std::vector<GramTile>& pieces) {
                                   for (const auto& p : pieces) res.tiles.push_back(p);
                                 });
  res.compute_seconds = stats.compute_seconds;
  res.wait_seconds = stats.wait_seconds;
  res.bytes_sent = stats.bytes_sent;
  // Whole tiles hold the diagonal already (step 0's tile): no second pass
  // over the block as gram_diagonal_all makes for panels.
  res.diag = gather_diagonal(
      comm, local.n > 0 ? res.tiles.front().k.diagonal() : torch::zeros({0}, torch::kFloat64), n_total);
  return res;
}

}  // namespace stiffness
