// Class stiffness and stiffness-against-distance sums of Gram tiles, computed
// with torch ops on the tiles' own device: a GPU rank's tiles never go to the
// host for them, only the final sums do (a few thousand numbers). Same
// definitions and layout as ClassStiffnessAccumulator::add_tile
// (src/analysis/metrics.cpp), which tests compare it with.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "stiffness/analysis/metrics.hpp"

namespace stiffness {

class TileStatistics {
 public:
  // labels[i], split[i] for every example i of the sample; `bins` > 0 also
  // sums stiffness against input distance. Sums live on `device`.
  TileStatistics(const std::vector<int64_t>& labels, const std::vector<Split>& split, int64_t classes,
                 int bins, torch::Device device);

  // Adds K[row0 : row0 + k.size(0), col0 : col0 + k.size(1)] (float64, on the
  // device). `diag` (N, float64, same device) holds K_ii of every example.
  // `mirrored`: the transposed tile belongs to K too and is counted. `dist`
  // (same shape as k, or undefined) holds the input distances.
  void add(int64_t row0, int64_t col0, const torch::Tensor& k, const torch::Tensor& diag, bool mirrored,
           const torch::Tensor& dist = {});

  // The sums so far, copied to the host in the accumulator's layout.
  StiffnessSums sums() const;

 private:
  torch::Tensor labels_, split_;  // int64 on the device
  int64_t classes_;
  int bins_;
  torch::Tensor cos_, sign_, count_, dcos_, dsign_, dcount_, fit_;
};

}  // namespace stiffness
