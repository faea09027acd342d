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
std::string host_name();
std::string utc_now();  // ISO 8601

}  // namespace stiffness
