#include <gtest/gtest.h>

#include "stiffness/runtime/blas.hpp"

using namespace stiffness;

// The rule that decides whether to re-execute with OPENBLAS_CORETYPE set.
TEST(OpenBlasCore, FallbackCoresAreReplacedByWhatTheCpuRuns) {
  EXPECT_EQ(better_openblas_core("prescott", true, true), "SkylakeX");
  EXPECT_EQ(better_openblas_core("prescott", true, false), "Haswell");
  EXPECT_EQ(better_openblas_core("sandybridge", true, false), "Haswell");
  EXPECT_EQ(better_openblas_core("nehalem", true, true), "SkylakeX");
}

TEST(OpenBlasCore, GoodOrUnknownChoicesAreKept) {
  EXPECT_EQ(better_openblas_core("skylakex", true, true), "");
  EXPECT_EQ(better_openblas_core("cooperlake", true, true), "");
  EXPECT_EQ(better_openblas_core("haswell", true, false), "");
  EXPECT_EQ(better_openblas_core("zen", true, true), "");
  EXPECT_EQ(better_openblas_core("", true, true), "");  // not OpenBLAS
  // A CPU that really has no AVX2 keeps the fallback.
  EXPECT_EQ(better_openblas_core("prescott", false, false), "");
}

// This layer links no BLAS: what loads one is LibTorch (tests/nn/blas_test.cpp
// tests the routines and the guard there). Without OpenBLAS the thread
// controls say so and the guard changes nothing.
TEST(BlasThreads, WithoutOpenBlasNothingIsSet) {
  if (ScopedBlasThreads::available()) GTEST_SKIP() << "OpenBLAS is loaded: tested in unit_nn";
  EXPECT_EQ(blas_threads(), 0);
  EXPECT_FALSE(set_blas_threads(2));
  {
    ScopedBlasThreads guard(2);
    EXPECT_EQ(blas_threads(), 0);
  }
  EXPECT_EQ(openblas_core(), "");
  EXPECT_EQ(openblas_kernels_note(), "not OpenBLAS");
}
