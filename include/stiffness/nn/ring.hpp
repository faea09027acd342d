// The ring that fills the tiles of the N x N Gram matrix K, using symmetry so
// that floor(P/2) shifts cover every pair of blocks once. See the worked
// example in ring.cpp and the picture in docs/design.md.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "stiffness/comm.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/tiling.hpp"

namespace stiffness {

struct GramTile {
  Range rows, cols;   // global example ranges
  torch::Tensor k;    // rows x cols, float64, contiguous
  bool mirrored;      // K[cols, rows] = k^T is part of the matrix too (off-diagonal)
};

struct RingResult {
  std::vector<GramTile> tiles;   // this rank's tiles only
  std::vector<double> diag;      // K_ii for all N examples (every rank)
  double compute_seconds = 0, wait_seconds = 0;
  int64_t bytes_sent = 0;
};

// Collective. `local` is this rank's block of the sample: examples
// block_range(n_total, P, rank). Every rank returns its own tiles.
RingResult ring_gram(Communicator& comm, const GradPlan& plan, const GradBlock& local,
                     int64_t n_total);

}  // namespace stiffness
