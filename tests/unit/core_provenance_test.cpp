#include <gtest/gtest.h>

#include "stiffness/provenance.hpp"

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
