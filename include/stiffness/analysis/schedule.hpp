// When to measure: explicit steps plus log-spaced ones. Pure maths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stiffness {

// Sorted, unique steps in [0, last_step]: always 0 (initialisation), every
// explicit step that is <= last_step, and `n_log` steps spaced evenly in
// log(step) over [1, last_step] (last_step itself included when n_log > 0).
// With `steps_per_epoch` > 0, also every epoch end (multiples of it).
std::vector<int64_t> measurement_steps(const std::vector<int64_t>& explicit_steps, int64_t n_log,
                                       int64_t last_step, int64_t steps_per_epoch = 0);

// Which measurements write K (--store-k): every, last, none, auto (every
// measurement while N <= kStoreAllUpTo, else the last one), or the
// measurements at a list of steps.
constexpr int64_t kStoreAllUpTo = 10000;
struct StoreK {
  enum class Kind { every, last, none, automatic, steps };
  Kind kind = Kind::automatic;
  std::vector<int64_t> steps;  // for Kind::steps, as given
  // For Kind::steps, the list as the user wrote it ("0, 1000"): printed as
  // is, so that the run file's options are the text given.
  std::string text;

  bool operator==(const StoreK& o) const { return kind == o.kind && steps == o.steps; }
  bool operator!=(const StoreK& o) const { return !(*this == o); }
};

// "every", "last", "none", "auto" or a comma list of steps ("0,1000").
// Throws a one-line error naming --store-k.
StoreK parse_store_k(const std::string& text);
// The text parse_store_k read (a list built in code: its steps comma-joined).
std::string to_string(const StoreK& rule);

// Whether the measurement at `step` writes K under `rule`, given the last
// measured step and the sample size N.
bool stores_k(const StoreK& rule, int64_t step, int64_t last_measured, int64_t n_examples);

}  // namespace stiffness
