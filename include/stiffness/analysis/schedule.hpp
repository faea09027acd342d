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

// Whether the measurement at `step` writes K under --store-k `rule` (every,
// last, none, auto, or a comma list of steps), given the last measured step
// and the sample size N. auto: every measurement while N <= kStoreAllUpTo.
constexpr int64_t kStoreAllUpTo = 10000;
bool stores_k(const std::string& rule, int64_t step, int64_t last_measured, int64_t n_examples);

}  // namespace stiffness
