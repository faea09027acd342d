#include <gtest/gtest.h>

#include <fstream>

#include "parse_args.hpp"
#include "stiffness/config/config.hpp"

using namespace stiffness;
using test_support::error_of;
using test_support::parse;

TEST(Config, DefaultsAreThePapersSettings) {
  auto c = parse({}).config;
  EXPECT_EQ(c.model, Model::mlp);
  EXPECT_EQ(c.widths, (std::vector<int64_t>{500, 300, 100}));
  EXPECT_EQ(c.channels, (std::vector<int64_t>{16, 32, 32}));
  EXPECT_EQ(c.per_class, 50);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_TRUE(differing_options(c, Config{}).empty());
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, CommandLineOverridesConfigFile) {
  const std::string path = ::testing::TempDir() + "/stiffness_cfg_test.ini";
  {
    std::ofstream f(path);
    f << "# comment\nlr = 0.5\nwidths = 7, 8\nper-class = 4\nmodel = cnn\n";
  }
  auto c = parse({"--config", path, "--per-class", "9", "--model", "resnet20"}).config;
  EXPECT_DOUBLE_EQ(c.lr, 0.5);
  EXPECT_EQ(c.widths, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(c.per_class, 9);
  EXPECT_EQ(c.model, Model::resnet20);
  EXPECT_EQ(c.config_file, path);
}

// The INI text is stored in every output file and compared on resume: its
// keys, their order and the form of each value must not change.
TEST(Config, IniTextOfTheDefaults) {
  EXPECT_EQ(to_ini(Config{}),
            "data-format = idx\n"
            "data-dir = /usr/share/datasets/fashion-mnist\n"
            "num-coarse = 0\n"
            "synthetic-train-per-class = 200\n"
            "synthetic-val-per-class = 50\n"
            "synthetic-size = 8\n"
            "dataset = fashion-mnist\n"
            "num-classes = 10\n"
            "train-limit = 0\n"
            "val-limit = 0\n"
            "model = mlp\n"
            "widths = 500,300,100\n"
            "channels = 16,32,32\n"
            "dtype = float32\n"
            "norm = none\n"
            "norm-groups = 8\n"
            "vocab-size = 0\n"
            "embed-dim = 64\n"
            "heads = 4\n"
            "layers = 2\n"
            "script = \n"
            "optimizer = adam\n"
            "lr = 0.001\n"
            "momentum = 0.90000000000000002\n"
            "batch-size = 32\n"
            "epochs = 1\n"
            "steps = 0\n"
            "seed = 0\n"
            "eval-examples = 10000\n"
            "measure-steps = \n"
            "measure-log = 6\n"
            "measure-epochs = true\n"
            "per-class = 50\n"
            "val-per-class = 50\n"
            "sample-seed = 1\n"
            "grad-method = auto\n"
            "distance-bins = 40\n"
            "store-k = auto\n"
            "k-dtype = float64\n"
            "panel-mb = 0\n"
            "save-params = true\n"
            "output = results/stiffness.h5\n"
            "threads = 0\n"
            "device = auto\n"
            "gpu-timeout = 600\n"
            "progress-seconds = 10\n"
            "checkpoint-minutes = 30\n");
}

TEST(Config, IniFormOfValues) {
  auto c = parse({"--lr", "0.1", "--momentum", "0.3", "--panel-mb", "0.1234567891", "--save-params", "false",
                  "--store-k", "0, 7", "--k-dtype", "float32", "--widths", "3,4", "--device", "cpu",
                  "--seed", "18446744073709551615", "--epochs", "2.5", "--overwrite", "--check-only"})
                .config;
  const std::string ini = to_ini(c);
  // Reals with 17 significant digits, except panel-mb (6); a --store-k list as given.
  for (const char* line : {"\nlr = 0.10000000000000001\n", "\nmomentum = 0.29999999999999999\n",
                           "\npanel-mb = 0.123457\n", "\nsave-params = false\n", "\nstore-k = 0, 7\n",
                           "\nk-dtype = float32\n", "\nwidths = 3,4\n", "\ndevice = cpu\n",
                           "\nseed = 18446744073709551615\n", "\nepochs = 2.5\n"})
    EXPECT_NE(ini.find(line), std::string::npos) << line;
  // The switches say what to do with the output, not what the run is.
  EXPECT_EQ(ini.find("overwrite"), std::string::npos);
  EXPECT_EQ(ini.find("check-only"), std::string::npos);
}

TEST(Config, IniTextRoundTripsThroughTheParser) {
  auto c = parse({"--data-format", "synthetic", "--model", "cnn", "--dtype", "float64", "--norm", "group",
                  "--optimizer", "sgd", "--grad-method", "materialize", "--store-k", "3,0", "--k-dtype",
                  "float32", "--device", "cpu", "--lr", "0.1", "--momentum", "0.3", "--panel-mb", "100.5",
                  "--measure-steps", "5,9", "--widths", "", "--save-params", "false", "--measure-epochs",
                  "false", "--seed", "7", "--epochs", "2.5", "--script", "m.pt", "--gpu-timeout", "1e-3",
                  "--output", "x.h5", "--threads", "3"})
               .config;
  EXPECT_EQ(differing_options(c, Config{}).size(), 22u);
  const std::string path = ::testing::TempDir() + "/stiffness_cfg_roundtrip.ini";
  {
    std::ofstream f(path);
    f << to_ini(c);
  }
  auto d = parse({"--config", path}).config;
  EXPECT_EQ(differing_options(d, c), std::vector<std::string>{});
  EXPECT_EQ(to_ini(d), to_ini(c));
}

TEST(Config, BadValuesNameTheOption) {
  EXPECT_NE(error_of({"--lr", "0"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "-1"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "-1e-9"}).find("got -1e-09"), std::string::npos);
  EXPECT_NE(error_of({"--per-class", "0"}).find("--per-class"), std::string::npos);
  EXPECT_NE(error_of({"--model", "resnet99"}).find("resnet99"), std::string::npos);
  EXPECT_NE(error_of({"--grad-method", "x"}).find("--grad-method"), std::string::npos);
  EXPECT_NE(error_of({"--batch-size", "0"}).find("--batch-size"), std::string::npos);
  EXPECT_NE(error_of({"--widths", "10,abc"}).find("--widths"), std::string::npos);
  EXPECT_NE(error_of({"--bogus", "1"}).find("bogus"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "fast"}).find("lr"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent.ini"}).find("/nonexistent.ini"), std::string::npos);
  EXPECT_EQ(error_of({"--store-k", "0,-3"}), "--store-k: steps must be >= 0, got -3");
  EXPECT_EQ(error_of({"--store-k", "0,5"}), "");
  EXPECT_EQ(error_of({"--store-k", "sometimes"}),
            "--store-k: expected every, last, none, auto or a comma list of steps, got 'sometimes'");
  EXPECT_EQ(error_of({"--model", "torchscript"}), "--script: the torchscript model needs a module file");
}

TEST(Config, HelpIsNotHinderedByBadValues) {
  auto p = parse({"--model", "resnet99", "--help"});
  EXPECT_TRUE(p.help);
}
