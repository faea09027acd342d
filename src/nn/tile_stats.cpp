// Every ordered pair (p, q) of a tile, and for a mirrored tile also (q, p),
// falls into a pair set by the splits of p and q ((train, train),
// (train, val), (val, val); (val, train) is the transpose of a (train, val)
// pair and is not counted twice) and, unless p == q, adds its cosine and
// sign to the class pair (label p, label q) of that set. Each sum is one
// bincount over keys (set, label p, label q), invalid pairs going to a last,
// discarded slot: no loop over pairs, no host round trip.
#include "stiffness/nn/tile_stats.hpp"

#include "stiffness/runtime/error.hpp"

namespace stiffness {

namespace {

std::vector<double> host_doubles(const torch::Tensor& t) {
  auto h = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return {h.data_ptr<double>(), h.data_ptr<double>() + h.numel()};
}

std::vector<int64_t> host_ints(const torch::Tensor& t) {
  auto h = t.to(torch::kCPU, torch::kInt64).contiguous();
  return {h.data_ptr<int64_t>(), h.data_ptr<int64_t>() + h.numel()};
}

// Sums `w` (or counts when w is undefined) into `into` by key; keys equal to
// into.numel() are the discarded slot.
void add_by_key(torch::Tensor& into, const torch::Tensor& key, const torch::Tensor& w = {}) {
  const int64_t n = into.numel();
  auto b = w.defined() ? torch::bincount(key, w, n + 1) : torch::bincount(key, {}, n + 1);
  into += b.slice(0, 0, n).to(into.scalar_type());
}

}  // namespace

TileStatistics::TileStatistics(const std::vector<int64_t>& labels, const std::vector<Split>& split,
                               int64_t classes, int bins, torch::Device device)
    : classes_(classes), bins_(bins) {
  STIFF_CHECK(labels.size() == split.size(), "class stiffness: labels and splits differ in size");
  const auto i64 = torch::TensorOptions(torch::kInt64).device(device);
  const auto f64 = torch::TensorOptions(torch::kFloat64).device(device);
  labels_ = torch::tensor(labels, torch::kInt64).to(device);
  std::vector<int64_t> s(split.size());
  for (size_t i = 0; i < split.size(); ++i) s[i] = static_cast<int64_t>(split[i]);
  split_ = torch::tensor(s, torch::kInt64).to(device);
  const int64_t cc = kNumPairSets * classes * classes, nb = kNumPairSets * 2 * int64_t{bins};
  cos_ = torch::zeros({cc}, f64);
  sign_ = torch::zeros({cc}, f64);
  count_ = torch::zeros({cc}, i64);
  dcos_ = torch::zeros({nb}, f64);
  dsign_ = torch::zeros({nb}, f64);
  dcount_ = torch::zeros({nb}, i64);
  fit_ = torch::zeros({kNumPairSets * 7}, f64);
}

void TileStatistics::add(int64_t row0, int64_t col0, const torch::Tensor& k, const torch::Tensor& diag,
                         bool mirrored, const torch::Tensor& dist) {
  const int64_t m = k.size(0), n = k.size(1);
  if (m == 0 || n == 0) return;
  const auto dev = k.device();
  auto li = labels_.slice(0, row0, row0 + m).unsqueeze(1), lj = labels_.slice(0, col0, col0 + n).unsqueeze(0);
  auto si = split_.slice(0, row0, row0 + m).unsqueeze(1), sj = split_.slice(0, col0, col0 + n).unsqueeze(0);
  // Cosine exactly as cosine_of: K_ij / sqrt(K_ii K_jj), 0 when a norm is 0.
  auto den = (diag.slice(0, row0, row0 + m).unsqueeze(1) * diag.slice(0, col0, col0 + n).unsqueeze(0)).sqrt();
  auto cos = torch::where(den > 0, k / den, torch::zeros_like(k)).reshape({-1});
  auto sgn = torch::sign(k).reshape({-1});
  // Pair set of the ordered pair (split p, split q): index 2 sp + sq.
  auto set_of = torch::tensor(std::vector<int64_t>{kTrainTrain, kTrainVal, -1, kValVal}, torch::kInt64).to(dev);
  auto gi = torch::arange(row0, row0 + m, torch::TensorOptions(torch::kInt64).device(dev)).unsqueeze(1);
  auto gj = torch::arange(col0, col0 + n, torch::TensorOptions(torch::kInt64).device(dev)).unsqueeze(0);
  auto self = (gi == gj);
  auto within = (li == lj).reshape({-1});
  torch::Tensor bin, d;
  const bool distance = bins_ > 0 && dist.defined();
  if (distance) {
    d = dist.reshape({-1});
    // As static_cast<int>(d / 2 * bins), clamped: truncation toward zero.
    bin = (d / 2.0 * bins_).to(torch::kInt64).clamp(0, bins_ - 1);
  }
  const int64_t C = classes_;
  for (int dir = 0; dir < (mirrored ? 2 : 1); ++dir) {
    // dir 0: the pair (row i, col j); dir 1: its transpose (col j, row i).
    auto lp = dir ? lj : li, lq = dir ? li : lj;
    auto set2d = set_of.index({(dir ? sj * 2 + si : si * 2 + sj).reshape({-1})}).view({m, n});
    auto key = ((set2d * C + lp) * C + lq).reshape({-1});
    auto set = set2d.reshape({-1});
    auto valid = (set >= 0) & self.logical_not().reshape({-1});
    key = torch::where(valid, key, torch::full_like(key, cos_.numel()));
    add_by_key(cos_, key, cos);
    add_by_key(sign_, key, sgn);
    add_by_key(count_, key);
    if (!distance) continue;
    const int64_t dump = dcos_.numel();
    for (int w = 0; w < 2; ++w) {
      auto ok = w ? (valid & within) : valid;
      auto dkey = torch::where(ok, (set * 2 + w) * bins_ + bin, torch::full_like(bin, dump));
      add_by_key(dcos_, dkey, cos);
      add_by_key(dsign_, dkey, sgn);
      add_by_key(dcount_, dkey);
    }
    // Line-fit sums over within-class pairs, per set.
    auto fkey = torch::where(valid & within, set, torch::full_like(set, kNumPairSets));
    auto fit = fit_.view({kNumPairSets, 7});
    const torch::Tensor weights[7] = {torch::ones_like(d), d, d * d, cos, d * cos, sgn, d * sgn};
    for (int f = 0; f < 7; ++f) {
      auto col = torch::bincount(fkey, weights[f], kNumPairSets + 1).slice(0, 0, kNumPairSets);
      fit.select(1, f).add_(col);
    }
  }
}

StiffnessSums TileStatistics::sums() const {
  StiffnessSums s;
  s.cos = host_doubles(cos_);
  s.sign = host_doubles(sign_);
  s.count = host_ints(count_);
  s.dcos = host_doubles(dcos_);
  s.dsign = host_doubles(dsign_);
  s.dcount = host_ints(dcount_);
  s.fit = host_doubles(fit_);
  return s;
}

}  // namespace stiffness
