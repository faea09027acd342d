#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "stiffness/runtime/disk_rate.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/provenance.hpp"

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

// The memory the default panel budget is derived from: never more than the
// machine has, and a Slurm limit below it wins (and is named).
TEST(NodeMemory, SmallestOfPhysicalCgroupAndSlurm) {
  unsetenv("SLURM_MEM_PER_NODE");
  std::string why;
  const double all = node_memory_mb(&why);
  EXPECT_GT(all, 64.0);
  EXPECT_FALSE(why.empty());
  setenv("SLURM_MEM_PER_NODE", "1234", 1);
  EXPECT_DOUBLE_EQ(node_memory_mb(&why), std::min(all, 1234.0));
  if (all > 1234.0) EXPECT_EQ(why, "SLURM_MEM_PER_NODE");
  unsetenv("SLURM_MEM_PER_NODE");
}

// The disk rate: a positive rate, the file removed; an unwritable place is
// one clear error naming the path.
TEST(DiskRate, MeasuresAndCleansUp) {
  const std::string path = ::testing::TempDir() + "stiffness-disk-rate-test";
  EXPECT_GT(sequential_write_gbps(path, int64_t{3} << 20), 0.0);
  EXPECT_FALSE(std::filesystem::exists(path));
  try {
    sequential_write_gbps("/nonexistent-folder/x", 1 << 20);
    FAIL() << "no error for a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent-folder/x'"), std::string::npos) << e.what();
  }
}
