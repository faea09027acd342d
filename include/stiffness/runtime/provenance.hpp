// Facts about the run's environment, for logs and the output file.
#pragma once

#include <string>

namespace stiffness {

// The BLAS libraries mapped into this process (from /proc/self/maps), e.g.
// "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3". Debian's
// reference BLAS is ~25x slower than OpenBLAS, so the log names it.
std::string blas_in_use();
// Sets OpenBLAS's thread count when OpenBLAS is loaded; returns whether it was.
bool set_blas_threads(int n);

// OpenBLAS picks its kernels from the CPU model when it loads. A CPU newer
// than the OpenBLAS build (Debian 12 has 0.3.21, older than Sapphire Rapids)
// gets the Prescott (SSE3) fallback: a 1024^3 SGEMM ran at 31 GFLOP/s instead
// of 240 with the SkylakeX kernels on the development machine.
std::string openblas_core();  // OpenBLAS's chosen core, lower case; "" when not loaded
// Pure rule, tested alone: the OPENBLAS_CORETYPE to ask for when `chosen` is
// a pre-AVX2 core but the CPU has AVX2+FMA (-> Haswell) or AVX-512 (->
// SkylakeX); "" when the choice is fine.
std::string better_openblas_core(const std::string& chosen, bool avx2_fma, bool avx512);
// Call first thing in main, before MPI_Init: when OpenBLAS chose a fallback
// core and OPENBLAS_CORETYPE is unset, re-executes this program once with it
// set (OpenBLAS reads it only when it loads). A user's own setting is kept.
void ensure_openblas_kernels(char** argv);
// One line for the log: the core and, after a re-execution, what it replaced.
std::string openblas_kernels_note();
std::string host_name();
// This process's high-water mark of resident memory (getrusage), in MiB.
double peak_rss_mb();
// The memory this process may use on its node, in MB: the smallest of the
// physical memory, the cgroup limit (a Slurm job's --mem) and
// SLURM_MEM_PER_NODE. `why` says which one it was.
double node_memory_mb(std::string* why = nullptr);
std::string utc_now();  // ISO 8601

}  // namespace stiffness
