// The synthetic class-structured dataset for tests (docs/datasets.md).
#include <random>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_detail.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"

namespace stiffness {

using detail::kMaxPayloadBytes;

// =============================== Synthetic ==============================

namespace {

// SplitMix64's finaliser: independent-looking generator seeds for the
// streams of one seed.
uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Standard normal numbers by the Box-Muller transform, written out because
// std::normal_distribution's algorithm differs between standard libraries.
// Draws come in pairs; the second of a pair is kept for the next call.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    constexpr double k2to53 = 1.0 / 9007199254740992.0;
    const double u1 = static_cast<double>((rng_() >> 11) + 1) * k2to53;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(rng_() >> 11) * k2to53;        // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 6.283185307179586 * u2;
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace

DataSets make_synthetic(const SyntheticSpec& s) {
  STIFF_CHECK(s.num_classes >= 1 && s.num_classes <= 100000,
              "synthetic data: number of classes must be in [1, 100000], got " + std::to_string(s.num_classes));
  STIFF_CHECK(s.num_coarse >= 0 && s.num_coarse <= s.num_classes,
              "synthetic data: number of super-classes must be in [0, " + std::to_string(s.num_classes) +
                  "] (at most one per class), got " + std::to_string(s.num_coarse));
  STIFF_CHECK(s.channels > 0 && s.height > 0 && s.width > 0 && s.channels <= 4096 && s.height <= 4096 &&
                  s.width <= 4096,
              "synthetic data: example shape must be positive (at most 4096 each), got " +
                  std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width));
  STIFF_CHECK(s.train_per_class > 0 && s.val_per_class > 0,
              "synthetic data: examples per class must be positive, got " + std::to_string(s.train_per_class) +
                  " train and " + std::to_string(s.val_per_class) + " validation");
  STIFF_CHECK(std::isfinite(s.coarse_scale) && std::isfinite(s.class_scale) && std::isfinite(s.noise) &&
                  s.coarse_scale >= 0 && s.class_scale >= 0 && s.noise >= 0,
              "synthetic data: scales and noise must be finite and non-negative");
  const int64_t D = s.channels * s.height * s.width;
  const int64_t C = s.num_classes;
  const int64_t per_class_max = std::max(s.train_per_class, s.val_per_class);
  STIFF_CHECK(per_class_max <= kMaxPayloadBytes / C && C * per_class_max <= kMaxPayloadBytes / D,
              "synthetic data: too large (more than " + std::to_string(kMaxPayloadBytes) + " values per split)");

  const int64_t K = s.num_coarse > 0 ? s.num_coarse : C;  // no super-classes: each class its own
  auto super_of = [&](int64_t c) { return s.num_coarse > 0 ? c * s.num_coarse / C : c; };

  // Prototypes: super-class directions first, then class offsets.
  Normal proto_rng(mix_seed(s.seed, 0));
  std::vector<double> g(static_cast<size_t>(K * D)), mu(static_cast<size_t>(C * D));
  for (double& v : g) v = proto_rng();
  for (int64_t c = 0; c < C; ++c) {
    const double* gk = &g[static_cast<size_t>(super_of(c) * D)];
    double* m = &mu[static_cast<size_t>(c * D)];
    for (int64_t d = 0; d < D; ++d) m[d] = s.coarse_scale * gk[d] + s.class_scale * proto_rng();
  }

  auto make_split = [&](int64_t per_class, uint64_t stream, const char* name) {
    Normal rng(mix_seed(s.seed, stream));
    ImageSet set;
    set.n = C * per_class;
    set.channels = s.channels;
    set.height = s.height;
    set.width = s.width;
    set.num_classes = C;
    set.num_coarse = s.num_coarse;
    set.pixels.resize(static_cast<size_t>(set.n * D));
    set.labels.resize(static_cast<size_t>(set.n));
    if (s.num_coarse > 0) set.coarse_labels.resize(static_cast<size_t>(set.n));
    for (int64_t i = 0; i < set.n; ++i) {
      const int64_t c = i % C;  // classes interleaved: any prefix is balanced
      set.labels[static_cast<size_t>(i)] = c;
      if (s.num_coarse > 0) set.coarse_labels[static_cast<size_t>(i)] = super_of(c);
      const double* m = &mu[static_cast<size_t>(c * D)];
      float* x = &set.pixels[static_cast<size_t>(i * D)];
      for (int64_t d = 0; d < D; ++d) x[d] = static_cast<float>(m[d] + s.noise * rng());
    }
    std::ostringstream src;
    src << "synthetic " << name << " (seed " << s.seed << ", " << C << " classes, " << s.num_coarse
        << " super-classes, " << s.channels << "x" << s.height << "x" << s.width << ")";
    set.source = src.str();
    return set;
  };
  DataSets out;
  out.train = make_split(s.train_per_class, 1, "train");
  out.val = make_split(s.val_per_class, 2, "validation");
  return out;
}

}  // namespace stiffness
