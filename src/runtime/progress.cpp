#include "stiffness/runtime/progress.hpp"

#include <spdlog/spdlog.h>

#include <cmath>

namespace stiffness {

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(std::fmod(s, 3600) / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(std::fmod(s, 60)));
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

Progress::Progress(std::string what, int64_t total, double interval)
    : what_(std::move(what)), total_(total), interval_(interval), start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t done, const std::string& extra) {
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (t - last_print_ < interval_ && done != total_) return;
  last_print_ = t;
  const double busy = std::max(1e-9, t - paused_);
  const double rate = done / busy;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  spdlog::info("{} {}/{} ({:.0f}%) | {:.1f}/s | ETA {}{}{}", what_, done, total_,
               total_ ? 100.0 * done / total_ : 100.0, rate, format_duration(eta),
               extra.empty() ? "" : " | ", extra);
}

}  // namespace stiffness
