#include "stiffness/metrics.hpp"

#include <cmath>

#include "stiffness/error.hpp"

namespace stiffness {

const char* pair_set_name(int set) {
  static const char* names[] = {"train_train", "train_val", "val_val"};
  STIFF_CHECK(set >= 0 && set < kNumPairSets, "pair_set_name: bad set");
  return names[set];
}

double cosine_of(double kij, double kii, double kjj) {
  const double d = std::sqrt(kii * kjj);
  return d > 0 ? kij / d : 0.0;
}

double sign_of(double kij) { return kij > 0 ? 1.0 : (kij < 0 ? -1.0 : 0.0); }

ClassStiffnessAccumulator::ClassStiffnessAccumulator(std::vector<int64_t> labels,
                                                     std::vector<Split> split, int64_t classes)
    : labels_(std::move(labels)), split_(std::move(split)), classes_(classes) {
  STIFF_CHECK(labels_.size() == split_.size(), "class stiffness: labels and splits differ in size");
  const size_t n = kNumPairSets * classes_ * classes_;
  sum_cos_.assign(n, 0.0);
  sum_sign_.assign(n, 0.0);
  count_.assign(n, 0);
}

// An ordered pair (i, j) of the full matrix. (val, train) pairs are the
// transposes of (train, val) pairs and are not counted twice.
void ClassStiffnessAccumulator::add_pair(int64_t i, int64_t j, double cos, double sgn) {
  if (i == j) return;  // the paper excludes self-pairs
  int set;
  if (split_[i] == Split::train)
    set = split_[j] == Split::train ? kTrainTrain : kTrainVal;
  else if (split_[j] == Split::val)
    set = kValVal;
  else
    return;
  const size_t at = (set * classes_ + labels_[i]) * classes_ + labels_[j];
  sum_cos_[at] += cos;
  sum_sign_[at] += sgn;
  count_[at] += 1;
}

void ClassStiffnessAccumulator::add_tile(int64_t row0, int64_t col0, int64_t rows, int64_t cols,
                                         const double* k, const std::vector<double>& diag,
                                         bool mirrored) {
  for (int64_t a = 0; a < rows; ++a) {
    const int64_t i = row0 + a;
    for (int64_t b = 0; b < cols; ++b) {
      const int64_t j = col0 + b;
      const double kij = k[a * cols + b];
      const double c = cosine_of(kij, diag[i], diag[j]);
      const double s = sign_of(kij);
      add_pair(i, j, c, s);
      if (mirrored) add_pair(j, i, c, s);
    }
  }
}

std::array<ClassStiffness, kNumPairSets> ClassStiffnessAccumulator::reduce(Communicator& comm) const {
  auto cos = sum_cos_;
  auto sgn = sum_sign_;
  auto cnt = count_;
  comm.allreduce_sum(cos.data(), cos.size(), DType::f64);
  comm.allreduce_sum(sgn.data(), sgn.size(), DType::f64);
  comm.allreduce_sum(cnt.data(), cnt.size(), DType::i64);
  std::array<ClassStiffness, kNumPairSets> out;
  const int64_t cc = classes_ * classes_;
  for (int set = 0; set < kNumPairSets; ++set) {
    ClassStiffness& r = out[set];
    r.classes = classes_;
    r.cosine.assign(cc, 0.0);
    r.sign.assign(cc, 0.0);
    r.pairs.assign(cc, 0);
    double wc = 0, ws = 0, bc = 0, bs = 0;
    int64_t nw = 0, nb = 0;
    for (int64_t a = 0; a < classes_; ++a) {
      for (int64_t b = 0; b < classes_; ++b) {
        const int64_t at = a * classes_ + b;
        const int64_t n = cnt[set * cc + at];
        r.pairs[at] = n;
        // A class pair with no examples has an undefined mean: NaN, and it
        // is left out of the within/between means.
        r.cosine[at] = n ? cos[set * cc + at] / n : std::nan("");
        r.sign[at] = n ? sgn[set * cc + at] / n : std::nan("");
        if (!n) continue;
        if (a == b) {
          wc += r.cosine[at], ws += r.sign[at], ++nw;
        } else {
          bc += r.cosine[at], bs += r.sign[at], ++nb;
        }
      }
    }
    r.within_cosine = nw ? wc / nw : std::nan("");
    r.within_sign = nw ? ws / nw : std::nan("");
    r.between_cosine = nb ? bc / nb : std::nan("");
    r.between_sign = nb ? bs / nb : std::nan("");
  }
  return out;
}

}  // namespace stiffness
