// Checkpoint helpers (src/nn/checkpoint.cpp) that need no MPI job: naming the
// option by which a checkpoint's options differ, and telling a committed
// checkpoint (current, or the older state.txt layout) from a folder left by
// a crash before the first commit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "stiffness/nn/checkpoint.hpp"

using namespace stiffness;
namespace fs = std::filesystem;

TEST(Checkpoint, OptionsDifferenceNamesTheFirstDifferingOption) {
  const std::string saved = "batch-size = 32\nlr = 0.001\nmodel = mlp\n";
  EXPECT_EQ(options_difference(saved, saved), "");
  EXPECT_EQ(options_difference(saved, "batch-size = 32\nlr = 0.01\nmodel = mlp\n"),
            "lr (checkpoint: 0.001, this run: 0.01)");
  EXPECT_EQ(options_difference(saved, "batch-size = 32\nlr = 0.001\nmodel = mlp\nseed = 1\n"),
            "seed (checkpoint: (absent), this run: 1)");
  EXPECT_EQ(options_difference(saved, "batch-size = 32\nlr = 0.001\n"),
            "model (checkpoint: mlp, this run: (absent))");
  // Order of lines does not matter; values are compared as text.
  EXPECT_EQ(options_difference(saved, "model = mlp\nlr = 0.001\nbatch-size = 32\n"), "");
}

TEST(Checkpoint, ExistsOnlyOnceCommitted) {
  const fs::path dir = fs::temp_directory_path() / "stiffness-unit-ckpt";
  fs::remove_all(dir);
  fs::create_directories(dir / "run.h5.ckpt" / "g1");  // a crash before the first commit
  const std::string out = (dir / "run.h5").string();
  EXPECT_EQ(checkpoint_dir(out), out + ".ckpt");
  EXPECT_FALSE(checkpoint_exists(out));
  std::ofstream(dir / "run.h5.ckpt" / "current") << "g1\n";
  EXPECT_TRUE(checkpoint_exists(out));
  fs::remove(dir / "run.h5.ckpt" / "current");
  std::ofstream(dir / "run.h5.ckpt" / "state.txt") << "step 3\n";  // the older layout
  EXPECT_TRUE(checkpoint_exists(out));
  fs::remove_all(dir);
}
