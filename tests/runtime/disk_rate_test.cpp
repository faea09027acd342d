#include <gtest/gtest.h>

#include <filesystem>

#include "stiffness/runtime/disk_rate.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness;

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
