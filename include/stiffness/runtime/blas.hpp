// The BLAS that LibTorch loaded, reached directly: every run-time lookup of
// a BLAS symbol is here. Calling into the library LibTorch itself uses keeps
// one BLAS (and one thread pool) in the process; LibTorch 1.13 offers no
// SYRK and no per-example GEMM without copies. Without LibTorch (unit tests
// of this layer) nothing is loaded and every routine is null.
#pragma once

#include <string>

namespace stiffness {

// Fortran BLAS, column-major. A row-major matrix X (r x c, row stride ld) is
// the column-major X^T (c x r) with leading dimension ld.
template <typename S>
using GemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                        const S* alpha, const S* a, const int* lda, const S* b, const int* ldb, const S* beta,
                        S* c, const int* ldc);
template <typename S>
using SyrkFn = void (*)(const char* uplo, const char* trans, const int* n, const int* k, const S* alpha,
                        const S* a, const int* lda, const S* beta, S* c, const int* ldc);

// The routines this program calls, looked up once; null when absent (then
// the callers fall back to LibTorch's operations).
struct BlasRoutines {
  GemmFn<float> sgemm = nullptr;
  GemmFn<double> dgemm = nullptr;
  SyrkFn<float> ssyrk = nullptr;
  SyrkFn<double> dsyrk = nullptr;
};
const BlasRoutines& blas_routines();

// The same by scalar type, for code templated on it (float or double).
template <typename S>
GemmFn<S> blas_gemm();
template <>
inline GemmFn<float> blas_gemm<float>() { return blas_routines().sgemm; }
template <>
inline GemmFn<double> blas_gemm<double>() { return blas_routines().dgemm; }
template <typename S>
SyrkFn<S> blas_syrk();
template <>
inline SyrkFn<float> blas_syrk<float>() { return blas_routines().ssyrk; }
template <>
inline SyrkFn<double> blas_syrk<double>() { return blas_routines().dsyrk; }

// The BLAS libraries mapped into this process (from /proc/self/maps), e.g.
// "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3". Debian's
// reference BLAS is ~25x slower than OpenBLAS, so the log names it.
std::string blas_in_use();

// OpenBLAS's own thread count, when OpenBLAS is loaded; 0 when it is not.
int blas_threads();
// Sets OpenBLAS's thread count when OpenBLAS is loaded; returns whether it was.
bool set_blas_threads(int n);

// OpenBLAS's thread count set to n for a scope and restored at its end, also
// on a throw. Code that runs its own threads (at::parallel_for), each making
// BLAS calls, sets 1 so that the BLAS does not start threads of its own on
// cores that are already busy. Does nothing when OpenBLAS is not loaded.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;
  // Whether OpenBLAS's thread count can be read and set in this process.
  static bool available();

 private:
  int was_ = 0;  // the count to restore; 0 when nothing was changed
};

// OpenBLAS picks its kernels from the CPU model when it loads. A CPU newer
// than the OpenBLAS build (Debian 12 has 0.3.21, older than Sapphire Rapids)
// gets the Prescott (SSE3) fallback, several times slower at SGEMM than the
// SkylakeX kernels (measured in docs/benchmarks.md).
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

}  // namespace stiffness
