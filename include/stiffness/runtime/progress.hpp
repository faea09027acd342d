// Rank 0's progress line for long phases: step, rate and ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace stiffness {

class Progress {
 public:
  Progress(std::string what, int64_t total, double interval_seconds);
  // Prints at most once per interval (and at the last step). `extra` is
  // appended, e.g. the loss.
  void update(int64_t done, const std::string& extra = "");
  // Time spent in pauses (measurements) is not counted in the rate.
  void pause(double seconds) { paused_ += seconds; }

 private:
  std::string what_;
  int64_t total_;
  double interval_, paused_ = 0, last_print_ = -1e9;
  std::chrono::steady_clock::time_point start_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12.3s"

}  // namespace stiffness
