#include "stiffness/runtime/provenance.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>

namespace stiffness {

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double node_memory_mb(std::string* why) {
  const double mb = 1024.0 * 1024.0;
  double best = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE)) / mb;
  std::string from = "physical memory";
  auto consider = [&](double v, const std::string& what) {
    if (v > 0 && v < best) {
      best = v;
      from = what;
    }
  };
  // cgroup v2, then v1: "max" or a huge number when unlimited.
  for (const char* f : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(f);
    std::string v;
    if (in >> v && !v.empty() && std::isdigit(static_cast<unsigned char>(v[0])))
      consider(std::stod(v) / mb, std::string("cgroup limit (") + f + ")");
  }
  if (const char* s = std::getenv("SLURM_MEM_PER_NODE")) consider(std::atof(s), "SLURM_MEM_PER_NODE");
  if (why) *why = from;
  return best;
}

}  // namespace stiffness
