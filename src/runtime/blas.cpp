#include "stiffness/runtime/blas.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>

namespace stiffness {

namespace {

// In whatever the process has loaded (LibTorch's libblas.so.3), not in a
// library of our own: RTLD_DEFAULT.
template <typename F>
F lookup(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// OpenBLAS's extensions, looked up once.
struct OpenBlas {
  int (*get_num_threads)() = lookup<int (*)()>("openblas_get_num_threads");
  void (*set_num_threads)(int) = lookup<void (*)(int)>("openblas_set_num_threads");
  char* (*get_corename)() = lookup<char* (*)()>("openblas_get_corename");
};

const OpenBlas& openblas() {
  static const OpenBlas o;
  return o;
}

}  // namespace

const BlasRoutines& blas_routines() {
  static const BlasRoutines r{lookup<GemmFn<float>>("sgemm_"), lookup<GemmFn<double>>("dgemm_"),
                              lookup<SyrkFn<float>>("ssyrk_"), lookup<SyrkFn<double>>("dsyrk_")};
  return r;
}

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

int blas_threads() {
  const auto get = openblas().get_num_threads;
  return get ? get() : 0;
}

bool set_blas_threads(int n) {
  const auto set = openblas().set_num_threads;
  if (!set) return false;
  set(n);
  return true;
}

bool ScopedBlasThreads::available() {
  return openblas().get_num_threads && openblas().set_num_threads;
}

ScopedBlasThreads::ScopedBlasThreads(int n) {
  if (!available()) return;
  const int was = openblas().get_num_threads();
  if (was == n) return;
  openblas().set_num_threads(n);
  was_ = was;
}

ScopedBlasThreads::~ScopedBlasThreads() {
  if (was_ > 0) openblas().set_num_threads(was_);
}

std::string openblas_core() {
  const auto fn = openblas().get_corename;
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

}  // namespace stiffness
