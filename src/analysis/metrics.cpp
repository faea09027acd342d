#include "stiffness/analysis/metrics.hpp"

#include <cmath>

#include "stiffness/runtime/error.hpp"

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
                                                     std::vector<Split> split, int64_t classes,
                                                     int distance_bins)
    : labels_(std::move(labels)), split_(std::move(split)), classes_(classes), bins_(distance_bins) {
  STIFF_CHECK(labels_.size() == split_.size(), "class stiffness: labels and splits differ in size");
  const size_t n = kNumPairSets * classes_ * classes_;
  sum_cos_.assign(n, 0.0);
  sum_sign_.assign(n, 0.0);
  count_.assign(n, 0);
  const size_t nb = kNumPairSets * 2 * bins_;
  dsum_cos_.assign(nb, 0.0);
  dsum_sign_.assign(nb, 0.0);
  dcount_.assign(nb, 0);
  fit_.assign(kNumPairSets * 7, 0.0);
}

// The pair set of an ordered pair (i, j), or -1: (val, train) pairs are the
// transposes of (train, val) pairs and are not counted twice; self-pairs are
// excluded as in the paper.
int ClassStiffnessAccumulator::pair_set(int64_t i, int64_t j) const {
  if (i == j) return -1;
  if (split_[i] == Split::train) return split_[j] == Split::train ? kTrainTrain : kTrainVal;
  return split_[j] == Split::val ? kValVal : -1;
}

void ClassStiffnessAccumulator::add_pair(int set, int64_t i, int64_t j, double cos, double sgn) {
  const size_t at = (set * classes_ + labels_[i]) * classes_ + labels_[j];
  sum_cos_[at] += cos;
  sum_sign_[at] += sgn;
  count_[at] += 1;
}

void ClassStiffnessAccumulator::add_distance(int set, bool within, double d, double cos, double sgn) {
  int bin = static_cast<int>(d / 2.0 * bins_);
  bin = bin < 0 ? 0 : (bin >= bins_ ? bins_ - 1 : bin);
  const size_t at = (set * 2 + (within ? 1 : 0)) * bins_ + bin;
  dsum_cos_[at] += cos;
  dsum_sign_[at] += sgn;
  dcount_[at] += 1;
  if (!within) return;
  double* f = &fit_[set * 7];
  f[0] += 1, f[1] += d, f[2] += d * d, f[3] += cos, f[4] += d * cos, f[5] += sgn, f[6] += d * sgn;
}

void ClassStiffnessAccumulator::add_tile(int64_t row0, int64_t col0, int64_t rows, int64_t cols,
                                         const double* k, const std::vector<double>& diag,
                                         bool mirrored, const double* dist) {
  for (int64_t a = 0; a < rows; ++a) {
    const int64_t i = row0 + a;
    for (int64_t b = 0; b < cols; ++b) {
      const int64_t j = col0 + b;
      const double kij = k[a * cols + b];
      const double c = cosine_of(kij, diag[i], diag[j]);
      const double s = sign_of(kij);
      for (int m = 0; m < (mirrored ? 2 : 1); ++m) {
        const int64_t p = m ? j : i, q = m ? i : j;
        const int set = pair_set(p, q);
        if (set < 0) continue;
        add_pair(set, p, q, c, s);
        if (bins_ > 0 && dist) {
          if (labels_[p] == labels_[q]) add_distance(set, true, dist[a * cols + b], c, s);
          add_distance(set, false, dist[a * cols + b], c, s);
        }
      }
    }
  }
}

void ClassStiffnessAccumulator::add_sums(const StiffnessSums& s) {
  STIFF_CHECK(s.cos.size() == sum_cos_.size() && s.sign.size() == sum_sign_.size() &&
                  s.count.size() == count_.size() && s.dcos.size() == dsum_cos_.size() &&
                  s.dsign.size() == dsum_sign_.size() && s.dcount.size() == dcount_.size() &&
                  s.fit.size() == fit_.size(),
              "class stiffness: sums of another shape (classes or distance bins differ)");
  auto add = [](auto& to, const auto& from) {
    for (size_t i = 0; i < to.size(); ++i) to[i] += from[i];
  };
  add(sum_cos_, s.cos);
  add(sum_sign_, s.sign);
  add(count_, s.count);
  add(dsum_cos_, s.dcos);
  add(dsum_sign_, s.dsign);
  add(dcount_, s.dcount);
  add(fit_, s.fit);
}

double first_zero_crossing(const std::vector<double>& x, const std::vector<double>& y,
                           const std::vector<int64_t>& n) {
  int prev = -1;
  for (size_t k = 0; k < y.size(); ++k) {
    if (n[k] == 0) continue;
    if (prev >= 0 && y[prev] > 0 && y[k] <= 0)
      return x[prev] + (x[k] - x[prev]) * y[prev] / (y[prev] - y[k]);
    prev = static_cast<int>(k);
  }
  return std::nan("");
}

double xi_in_range(double slope, double intercept, double pairs, double lo, double hi, std::string& status) {
  // Three pairs is the least that leaves a line one degree of freedom; a
  // distance variance of zero (one distinct distance) leaves no slope.
  if (!(pairs >= 3) || !std::isfinite(slope) || !std::isfinite(lo) || !std::isfinite(hi)) {
    status = "too_few_pairs";
    return std::nan("");
  }
  if (!(slope < 0)) {
    status = "slope_not_negative";
    return std::nan("");
  }
  const double xi = -intercept / slope;
  // Outside the data the line is an extrapolation, not a crossing.
  if (!(xi >= lo && xi <= hi)) {
    status = "no_crossing_in_range";
    return std::nan("");
  }
  status = "ok";
  return xi;
}

double half_stiffness_length(const std::vector<double>& edges, const std::vector<double>& y,
                             const std::vector<int64_t>& n, double& reference, std::string& status) {
  reference = std::nan("");
  int64_t total = 0;
  for (auto c : n) total += c;
  if (total == 0) {
    status = "no_pairs";
    return std::nan("");
  }
  auto centre = [&](size_t b) { return 0.5 * (edges[b] + edges[b + 1]); };
  // The reference level: the pair-weighted mean over the lowest occupied
  // bins that together hold at least 5% of the pairs (one bin at least),
  // so that it is not the mean of a handful of pairs.
  size_t first = 0, last = 0;
  double held = 0, sum = 0;
  bool have_first = false;
  for (size_t b = 0; b < n.size(); ++b) {
    if (n[b] == 0) continue;
    if (!have_first) first = b, have_first = true;
    last = b;
    if (held < 0.05 * static_cast<double>(total)) held += n[b], sum += n[b] * y[b];
  }
  reference = sum / held;
  if (!(reference > 0)) {
    status = "not_positive";
    return edges[first];
  }
  const double half = 0.5 * reference;
  int prev = -1;
  for (size_t b = first; b <= last; ++b) {
    if (n[b] == 0) continue;
    if (y[b] <= half) {
      status = "crossed";
      if (prev < 0) return centre(b);
      return centre(prev) + (centre(b) - centre(prev)) * (y[prev] - half) / (y[prev] - y[b]);
    }
    prev = static_cast<int>(b);
  }
  status = "stays_above_half";
  return edges[last + 1];
}

std::array<DistanceCurves, kNumPairSets> ClassStiffnessAccumulator::reduce_distance(
    Communicator& comm) const {
  std::array<DistanceCurves, kNumPairSets> out;
  if (bins_ == 0) return out;
  auto cos = dsum_cos_;
  auto sgn = dsum_sign_;
  auto cnt = dcount_;
  auto fit = fit_;
  comm.allreduce_sum(cos.data(), cos.size(), DType::f64);
  comm.allreduce_sum(sgn.data(), sgn.size(), DType::f64);
  comm.allreduce_sum(cnt.data(), cnt.size(), DType::i64);
  comm.allreduce_sum(fit.data(), fit.size(), DType::f64);
  std::vector<double> centres(bins_);
  for (int b = 0; b < bins_; ++b) centres[b] = (b + 0.5) * 2.0 / bins_;
  for (int set = 0; set < kNumPairSets; ++set) {
    DistanceCurves& r = out[set];
    for (int b = 0; b <= bins_; ++b) r.edges.push_back(b * 2.0 / bins_);
    for (int w = 0; w < 2; ++w) {
      auto& mc = w ? r.within_cosine : r.all_cosine;
      auto& ms = w ? r.within_sign : r.all_sign;
      auto& np = w ? r.within_pairs : r.all_pairs;
      for (int b = 0; b < bins_; ++b) {
        const size_t at = (set * 2 + w) * bins_ + b;
        np.push_back(cnt[at]);
        mc.push_back(cnt[at] ? cos[at] / cnt[at] : std::nan(""));
        ms.push_back(cnt[at] ? sgn[at] / cnt[at] : std::nan(""));
      }
    }
    // The observed within-class range from the occupied bins (no per-pair
    // minimum and maximum are accumulated; bin resolution is enough to tell
    // a crossing inside the data from an extrapolation far outside it).
    r.fit_min = r.fit_max = std::nan("");
    for (int b = 0; b < bins_; ++b) {
      if (r.within_pairs[b] == 0) continue;
      if (std::isnan(r.fit_min)) r.fit_min = r.edges[b];
      r.fit_max = r.edges[b + 1];
    }
    // Least squares s = a + b d from the sums: b = cov(d, s) / var(d).
    const double* f = &fit[set * 7];
    auto line = [&](double sy, double sdy, double& slope, double& icept, std::string& status) {
      const double n = f[0], var = f[2] - f[1] * f[1] / std::max(n, 1.0);
      // A covariance at rounding level (e.g. every sign +1) is no slope at all.
      const double cov = sdy - f[1] * sy / std::max(n, 1.0);
      const bool flat = std::abs(cov) <= 1e-12 * (std::abs(sdy) + std::abs(f[1] * sy / std::max(n, 1.0)));
      slope = (n > 1 && var > 0) ? (flat ? 0.0 : cov / var) : std::nan("");
      icept = n > 0 ? (sy - slope * f[1]) / n : std::nan("");
      return xi_in_range(slope, icept, n, r.fit_min, r.fit_max, status);
    };
    r.xi_linear_cosine = line(f[3], f[4], r.slope_cosine, r.intercept_cosine, r.xi_linear_cosine_status);
    r.xi_linear_sign = line(f[5], f[6], r.slope_sign, r.intercept_sign, r.xi_linear_sign_status);
    r.xi_binned_cosine = first_zero_crossing(centres, r.within_cosine, r.within_pairs);
    r.xi_binned_sign = first_zero_crossing(centres, r.within_sign, r.within_pairs);
    r.half_length_cosine = half_stiffness_length(r.edges, r.within_cosine, r.within_pairs,
                                                 r.half_reference_cosine, r.half_length_cosine_status);
    r.half_length_sign = half_stiffness_length(r.edges, r.within_sign, r.within_pairs, r.half_reference_sign,
                                               r.half_length_sign_status);
  }
  return out;
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
