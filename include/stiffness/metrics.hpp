// Class stiffness from tiles of the Gram matrix K (definitions in
// docs/metrics.md). Each rank feeds the tiles it computed; sums and counts
// are then added over ranks, so no rank ever needs the whole N x N matrix.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "stiffness/comm.hpp"

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

class ClassStiffnessAccumulator {
 public:
  // labels[i], split[i] for every example i of the sample (global order).
  ClassStiffnessAccumulator(std::vector<int64_t> labels, std::vector<Split> split, int64_t classes);

  // Adds the tile K[row0 : row0+rows, col0 : col0+cols] (row-major, doubles).
  // `diag` holds K_ii for ALL examples. When `mirrored` the transposed tile
  // (K[col block, row block]) is part of the full matrix too and counted.
  void add_tile(int64_t row0, int64_t col0, int64_t rows, int64_t cols, const double* k,
                const std::vector<double>& diag, bool mirrored);

  // Sums over ranks (collective) and returns the three pair sets.
  std::array<ClassStiffness, kNumPairSets> reduce(Communicator& comm) const;

 private:
  void add_pair(int64_t i, int64_t j, double cos, double sgn);
  std::vector<int64_t> labels_;
  std::vector<Split> split_;
  int64_t classes_;
  std::vector<double> sum_cos_, sum_sign_;  // [set][a][b]
  std::vector<int64_t> count_;
};

// Cosine of a Gram entry: K_ij / sqrt(K_ii K_jj), 0 when either norm is 0.
double cosine_of(double kij, double kii, double kjj);
// Sign stiffness: -1, 0 or +1.
double sign_of(double kij);

}  // namespace stiffness
