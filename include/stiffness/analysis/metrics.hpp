// Class stiffness from tiles of the Gram matrix K (definitions in
// docs/metrics.md). Each rank feeds the tiles it computed; sums and counts
// are then added over ranks, so no rank ever needs the whole N x N matrix.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "stiffness/runtime/comm.hpp"

namespace stiffness {

enum class Split : uint8_t { train = 0, val = 1 };

// Pair sets of the paper: (train, train), (train, val), (val, val).
enum PairSet { kTrainTrain = 0, kTrainVal = 1, kValVal = 2, kNumPairSets = 3 };
const char* pair_set_name(int set);  // "train_train", "train_val", "val_val"

// Class matrices of one pair set: C[a * classes + b] = mean stiffness over
// ordered pairs (i, j), i != j, i in class a (first split), j in class b.
struct ClassStiffness {
  int64_t classes = 0;
  std::vector<double> cosine, sign;  // classes x classes, row-major
  std::vector<int64_t> pairs;        // pair counts per entry
  double within_cosine = 0, between_cosine = 0;
  double within_sign = 0, between_sign = 0;
};

// Stiffness against input distance d = 1 - cos(x_i, x_j) of standardised
// inputs, in fixed bins over [0, 2] (fixed so runs can be recombined: keep
// the pair counts), for within-class pairs and for all pairs of a pair set,
// and two critical lengths (definitions in docs/metrics.md): the paper's xi
// and the half-stiffness length.
struct DistanceCurves {
  std::vector<double> edges;                          // bins + 1
  std::vector<double> within_cosine, within_sign;     // per bin, NaN when empty
  std::vector<double> all_cosine, all_sign;
  std::vector<int64_t> within_pairs, all_pairs;
  // The observed within-class distance range, to bin resolution: the lower
  // edge of the first and the upper edge of the last occupied within-class
  // bin (NaN without within-class pairs). The line below is fitted over it.
  double fit_min = 0, fit_max = 0;
  // Zero crossing of the least-squares line s = a + b d over within-class
  // pairs, reported only when b < 0 and the crossing lies in [fit_min,
  // fit_max]; otherwise NaN and the status says why: "ok", "too_few_pairs",
  // "slope_not_negative" or "no_crossing_in_range".
  double xi_linear_cosine = 0, xi_linear_sign = 0;
  std::string xi_linear_cosine_status = "ok", xi_linear_sign_status = "ok";
  // First crossing of the binned curve (linear interpolation between bin
  // centres; NaN if it never crosses).
  double xi_binned_cosine = 0, xi_binned_sign = 0;
  double slope_cosine = 0, intercept_cosine = 0, slope_sign = 0, intercept_sign = 0;
  // The half-stiffness length: where binned within-class stiffness first
  // falls to half its short-distance level `half_reference_*`. Defined for
  // every measurement with within-class pairs; the status says whether the
  // curve "crossed", was "not_positive" at short distance (length = fit_min)
  // or "stays_above_half" (length = fit_max, a lower bound).
  double half_length_cosine = 0, half_length_sign = 0;
  double half_reference_cosine = 0, half_reference_sign = 0;
  std::string half_length_cosine_status = "crossed", half_length_sign_status = "crossed";
};

// The paper's xi from the line s = intercept + slope d, checked against the
// observed range [lo, hi]; `pairs` is the number of within-class pairs.
double xi_in_range(double slope, double intercept, double pairs, double lo, double hi, std::string& status);

// The half-stiffness length of a binned curve (bin edges `edges`, means `y`,
// counts `n`): see docs/metrics.md. Sets `reference` and `status`.
double half_stiffness_length(const std::vector<double>& edges, const std::vector<double>& y,
                             const std::vector<int64_t>& n, double& reference, std::string& status);

// xi from binned values (bin centres `x`, means `y`, counts `n`).
double first_zero_crossing(const std::vector<double>& x, const std::vector<double>& y,
                           const std::vector<int64_t>& n);

// The sums a ClassStiffnessAccumulator keeps, in its own layout, so that sums
// computed elsewhere (on a GPU rank's device: src/nn/tile_stats.cpp) can be
// added to it before the reduction over ranks:
//   cos, sign, count      [set][a][b]        kNumPairSets x classes x classes
//   dcos, dsign, dcount   [set][within][bin] kNumPairSets x 2 x bins
//   fit                   [set][7]           over within-class pairs: n, sum d,
//                                            sum d^2, sum c, sum d c, sum s, sum d s
struct StiffnessSums {
  std::vector<double> cos, sign, dcos, dsign, fit;
  std::vector<int64_t> count, dcount;
};

class ClassStiffnessAccumulator {
 public:
  // labels[i], split[i] for every example i of the sample (global order).
  // `distance_bins` > 0 also accumulates stiffness against input distance.
  ClassStiffnessAccumulator(std::vector<int64_t> labels, std::vector<Split> split, int64_t classes,
                            int distance_bins = 0);

  // Adds the tile K[row0 : row0+rows, col0 : col0+cols] (row-major, doubles).
  // `diag` holds K_ii for ALL examples. When `mirrored` the transposed tile
  // (K[col block, row block]) is part of the full matrix too and counted.
  // `dist` (same shape as the tile, or null) holds input distances.
  void add_tile(int64_t row0, int64_t col0, int64_t rows, int64_t cols, const double* k,
                const std::vector<double>& diag, bool mirrored, const double* dist = nullptr);

  // Adds sums computed elsewhere (same labels, splits, classes and bins).
  void add_sums(const StiffnessSums& s);

  // Sums over ranks (collective) and returns the three pair sets.
  std::array<ClassStiffness, kNumPairSets> reduce(Communicator& comm) const;
  // Same for the distance curves (empty when distance_bins == 0). Collective.
  std::array<DistanceCurves, kNumPairSets> reduce_distance(Communicator& comm) const;

 private:
  int pair_set(int64_t i, int64_t j) const;
  void add_pair(int set, int64_t i, int64_t j, double cos, double sgn);
  void add_distance(int set, bool within, double d, double cos, double sgn);
  std::vector<int64_t> labels_;
  std::vector<Split> split_;
  int64_t classes_;
  int bins_;
  std::vector<double> sum_cos_, sum_sign_;  // [set][a][b]
  std::vector<int64_t> count_;
  // [set][within?][bin] sums and counts, and [set][7] line-fit sums over
  // within-class pairs: n, sum d, sum d^2, sum c, sum d c, sum s, sum d s.
  std::vector<double> dsum_cos_, dsum_sign_, fit_;
  std::vector<int64_t> dcount_;
};

// Everything a measurement reports besides K.
struct StiffnessResults {
  std::array<ClassStiffness, kNumPairSets> classes;
  std::array<DistanceCurves, kNumPairSets> distance;  // edges empty when not computed
  bool has_coarse = false;
  std::array<ClassStiffness, kNumPairSets> coarse;    // super-class level (e.g. CIFAR-100's 20)
};

// Cosine of a Gram entry: K_ij / sqrt(K_ii K_jj), 0 when either norm is 0.
double cosine_of(double kij, double kii, double kjj);
// Sign stiffness: -1, 0 or +1.
double sign_of(double kij);

}  // namespace stiffness
