#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "stiffness/runtime/provenance.hpp"

using namespace stiffness;

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
