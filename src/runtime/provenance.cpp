#include "stiffness/runtime/provenance.hpp"

#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>

namespace stiffness {

std::string blas_in_use() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> libs;
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const auto base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") != std::string::npos || base.find("mkl_core") != std::string::npos)
      libs.insert(path);
  }
  std::string out;
  for (const auto& l : libs) out += (out.empty() ? "" : ", ") + l;
  if (out.empty()) return "none found";
  if (out.find("openblas") == std::string::npos && out.find("mkl") == std::string::npos)
    out += " (reference BLAS? install libopenblas0-pthread for ~25x faster GEMM)";
  return out;
}

bool set_blas_threads(int n) {
  using Fn = void (*)(int);
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!fn) return false;
  fn(n);
  return true;
}

std::string openblas_core() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!fn || !fn()) return "";
  std::string s = fn();
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string better_openblas_core(const std::string& chosen, bool avx2_fma, bool avx512) {
  // OpenBLAS's names of x86 cores without AVX2 kernels (its fallbacks).
  static const std::set<std::string> pre_avx2 = {
      "katmai", "coppermine", "northwood", "prescott", "banias",   "atom",     "core2",
      "penryn", "dunnington", "nehalem",   "athlon",   "opteron",  "opteron_sse3",
      "barcelona", "nano",    "bobcat",    "sandybridge", "bulldozer", "piledriver"};
  if (!pre_avx2.count(chosen)) return "";
  if (avx512) return "SkylakeX";
  if (avx2_fma) return "Haswell";
  return "";
}

void ensure_openblas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice, or already re-executed
  const std::string chosen = openblas_core();
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512cd");
#else
  const bool avx2_fma = false, avx512 = false;
#endif
  const std::string better = better_openblas_core(chosen, avx2_fma, avx512);
  if (better.empty()) return;
  setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
  setenv("STIFFNESS_OPENBLAS_REPLACED", chosen.c_str(), 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the slow kernels
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv("STIFFNESS_OPENBLAS_REPLACED");
}

std::string openblas_kernels_note() {
  const std::string core = openblas_core();
  if (core.empty()) return "not OpenBLAS";
  std::string s = "OpenBLAS kernels for " + core;
  if (const char* was = std::getenv("STIFFNESS_OPENBLAS_REPLACED"))
    s += std::string(" (OPENBLAS_CORETYPE set by stiffness: OpenBLAS chose ") + was +
         ", a fallback without AVX2, for this CPU)";
  else if (const char* env = std::getenv("OPENBLAS_CORETYPE"))
    s += std::string(" (OPENBLAS_CORETYPE=") + env + " from the environment)";
  return s;
}

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
