#include "stiffness/analysis/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "stiffness/runtime/parse.hpp"

namespace stiffness {

std::vector<int64_t> measurement_steps(const std::vector<int64_t>& explicit_steps, int64_t n_log,
                                       int64_t last_step, int64_t steps_per_epoch) {
  std::vector<int64_t> steps{0};
  if (steps_per_epoch > 0)
    for (int64_t s = steps_per_epoch; s <= last_step; s += steps_per_epoch) steps.push_back(s);
  for (auto s : explicit_steps)
    if (s >= 0 && s <= last_step) steps.push_back(s);
  if (n_log > 0 && last_step >= 1) {
    const double top = std::log(static_cast<double>(last_step));
    for (int64_t i = 0; i < n_log; ++i) {
      const double f = n_log == 1 ? 1.0 : static_cast<double>(i) / static_cast<double>(n_log - 1);
      steps.push_back(std::clamp<int64_t>(std::llround(std::exp(f * top)), 1, last_step));
    }
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

bool stores_k(const std::string& rule, int64_t step, int64_t last_measured, int64_t n_examples) {
  if (rule == "every") return true;
  if (rule == "none") return false;
  if (rule == "last") return step == last_measured;
  if (rule == "auto") return n_examples <= kStoreAllUpTo || step == last_measured;
  const auto steps = parse_int_list(rule, "--store-k");
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

}  // namespace stiffness
