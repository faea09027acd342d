#include "stiffness/analysis/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "stiffness/runtime/error.hpp"
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

StoreK parse_store_k(const std::string& text) {
  StoreK r;
  if (text == "every") r.kind = StoreK::Kind::every;
  else if (text == "last") r.kind = StoreK::Kind::last;
  else if (text == "none") r.kind = StoreK::Kind::none;
  else if (text == "auto") r.kind = StoreK::Kind::automatic;
  else {
    r.kind = StoreK::Kind::steps;
    r.text = text;
    try {
      r.steps = parse_int_list(text, "store-k");
    } catch (const Error&) {
      STIFF_THROW("--store-k: expected every, last, none, auto or a comma list of steps, got '" + text + "'");
    }
  }
  return r;
}

std::string to_string(const StoreK& rule) {
  switch (rule.kind) {
    case StoreK::Kind::every: return "every";
    case StoreK::Kind::last: return "last";
    case StoreK::Kind::none: return "none";
    case StoreK::Kind::automatic: return "auto";
    case StoreK::Kind::steps: break;
  }
  if (!rule.text.empty()) return rule.text;
  std::string s;
  for (size_t i = 0; i < rule.steps.size(); ++i) s += (i ? "," : "") + std::to_string(rule.steps[i]);
  return s;
}

bool stores_k(const StoreK& rule, int64_t step, int64_t last_measured, int64_t n_examples) {
  switch (rule.kind) {
    case StoreK::Kind::every: return true;
    case StoreK::Kind::none: return false;
    case StoreK::Kind::last: return step == last_measured;
    case StoreK::Kind::automatic: return n_examples <= kStoreAllUpTo || step == last_measured;
    case StoreK::Kind::steps: break;
  }
  return std::find(rule.steps.begin(), rule.steps.end(), step) != rule.steps.end();
}

}  // namespace stiffness
