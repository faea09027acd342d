// The ring that fills the tiles of the N x N Gram matrix K, using symmetry so
// that floor(P/2) shifts cover every pair of blocks once, and hands them on
// in row panels (tiling.hpp) so that no rank holds more of K than a panel.
// See the worked example in ring.cpp and the picture in docs/design.md.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace stiffness {

// A computed piece of K: a whole tile, or a part of a panel.
struct GramTile {
  Range rows, cols;   // global example ranges
  torch::Tensor k;    // rows x cols, float64, contiguous, on the blocks' device
  bool mirrored;      // K[cols, rows] = k^T is part of the matrix too (off-diagonal)
};

// Receives the ring's panels. The one rule of the rounds: on every rank the
// ring calls round() the same number of times per ring step (panel_rounds in
// tiling.hpp, the busiest rank's panel count; no message is needed to agree
// on it), each time with this rank's pieces of its panel in that round (an
// off-diagonal panel is one mirrored piece; a diagonal one is its symmetric
// square and, unless it is the last, the mirrored rectangle to its right), or
// with none when this rank's panels are done. So a sink may make a
// collective call per round, such as the parallel write of K.
class PanelSink {
 public:
  virtual ~PanelSink() = default;
  virtual void round(const std::vector<GramTile>& pieces) = 0;
};

// A sink from a function (tests and ring_gram).
class FunctionSink : public PanelSink {
 public:
  explicit FunctionSink(std::function<void(const std::vector<GramTile>&)> fn) : fn_(std::move(fn)) {}
  void round(const std::vector<GramTile>& pieces) override { fn_(pieces); }

 private:
  std::function<void(const std::vector<GramTile>&)> fn_;
};

struct RingStats {
  double compute_seconds = 0;  // gram_tile, the arithmetic
  double wait_seconds = 0;     // waiting for the next block after the arithmetic
  double sink_seconds = 0;     // in the sinks (statistics, writes, progress)
  int64_t bytes_sent = 0, panels = 0;
};

// K_ii of every example, on every rank: each rank computes its own block's
// (chunk by chunk, from the same per-example factors as the tiles) and they
// are gathered. Cosines need both ends' norms before any panel is analysed.
std::vector<double> gram_diagonal_all(Communicator& comm, const GradPlan& plan, const GradBlock& local,
                                      int64_t n_total);

// Collective. `local` is this rank's block: examples block_range(n_total, P,
// rank). Panels hold at most `budget` entries of K (tile_panels); each round
// goes to every sink in order, and the panel is freed after the last.
// `packed`, when given, is pack(local) with local's parts views of it (see
// measure.cpp): it is sent as is, so the rank holds its block once, not twice.
RingStats ring_panels(Communicator& comm, const GradPlan& plan, const GradBlock& local, int64_t n_total,
                      int64_t budget, const std::vector<PanelSink*>& sinks, const torch::Tensor& packed = {});
// The same with one function as the sink.
RingStats ring_panels(Communicator& comm, const GradPlan& plan, const GradBlock& local, int64_t n_total,
                      int64_t budget, std::function<void(const std::vector<GramTile>&)> sink,
                      const torch::Tensor& packed = {});

struct RingResult {
  std::vector<GramTile> tiles;   // this rank's tiles only
  std::vector<double> diag;      // K_ii for all N examples (every rank)
  double compute_seconds = 0, wait_seconds = 0;
  int64_t bytes_sent = 0;
};

// The same ring keeping whole tiles (one panel per tile), for tests and the
// benchmark of the arithmetic: memory grows as N^2 / P.
RingResult ring_gram(Communicator& comm, const GradPlan& plan, const GradBlock& local,
                     int64_t n_total);

}  // namespace stiffness
