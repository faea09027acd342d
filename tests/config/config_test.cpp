#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "stiffness/config/config.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "one_rank.hpp"
#include "stiffness/analysis/schedule.hpp"

using namespace stiffness;

namespace {

ParsedArgs parse(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_train_args(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  try {
    validate(parse(args).config);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, DefaultsAreThePapersSettings) {
  auto c = parse({}).config;
  EXPECT_EQ(c.model, "mlp");
  EXPECT_EQ(c.widths, (std::vector<int64_t>{500, 300, 100}));
  EXPECT_EQ(c.channels, (std::vector<int64_t>{16, 32, 32}));
  EXPECT_EQ(c.per_class, 50);
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, CommandLineOverridesConfigFile) {
  const std::string path = ::testing::TempDir() + "/stiffness_cfg_test.ini";
  {
    std::ofstream f(path);
    f << "# comment\nlr = 0.5\nwidths = 7, 8\nper-class = 4\n";
  }
  auto c = parse({"--config", path, "--per-class", "9"}).config;
  EXPECT_DOUBLE_EQ(c.lr, 0.5);
  EXPECT_EQ(c.widths, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(c.per_class, 9);
  EXPECT_EQ(c.config_file, path);
  // to_ini round-trips through the parser.
  {
    std::ofstream f(path);
    f << to_ini(c);
  }
  auto d = parse({"--config", path}).config;
  EXPECT_EQ(to_ini(d), to_ini(c));
}

TEST(Config, HelpListsEveryOptionWithDefault) {
  auto p = parse({"--help"});
  EXPECT_TRUE(p.help);
  for (const char* opt : {"--lr", "--per-class", "--grad-method", "--output", "--measure-steps", "--widths"})
    EXPECT_NE(p.help_text.find(opt), std::string::npos) << opt;
  EXPECT_NE(p.help_text.find("(=0.001)"), std::string::npos);
}

TEST(Config, BadValuesNameTheOption) {
  EXPECT_NE(error_of({"--lr", "0"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "-1"}).find("--lr"), std::string::npos);
  EXPECT_NE(error_of({"--per-class", "0"}).find("--per-class"), std::string::npos);
  EXPECT_NE(error_of({"--model", "resnet99"}).find("resnet99"), std::string::npos);
  EXPECT_NE(error_of({"--grad-method", "x"}).find("--grad-method"), std::string::npos);
  EXPECT_NE(error_of({"--batch-size", "0"}).find("--batch-size"), std::string::npos);
  EXPECT_NE(error_of({"--widths", "10,abc"}).find("--widths"), std::string::npos);
  EXPECT_NE(error_of({"--bogus", "1"}).find("bogus"), std::string::npos);
  EXPECT_NE(error_of({"--lr", "fast"}).find("lr"), std::string::npos);
  EXPECT_NE(error_of({"--config", "/nonexistent.ini"}).find("/nonexistent.ini"), std::string::npos);
}

TEST(Schedule, IncludesZeroExplicitAndLogSpacedSteps) {
  auto s = measurement_steps({5, 5000}, 4, 1000);
  EXPECT_EQ(s, (std::vector<int64_t>{0, 1, 5, 10, 100, 1000}));
  EXPECT_EQ(measurement_steps({}, 0, 50), (std::vector<int64_t>{0}));
  EXPECT_EQ(measurement_steps({}, 3, 0), (std::vector<int64_t>{0}));
  EXPECT_EQ(measurement_steps({}, 0, 35, 10), (std::vector<int64_t>{0, 10, 20, 30}));
  auto t = measurement_steps({}, 20, 7);  // more points than steps: unique, within range
  EXPECT_EQ(t, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Metrics, CosineAndSign) {
  EXPECT_DOUBLE_EQ(cosine_of(2, 4, 1), 1.0);
  EXPECT_DOUBLE_EQ(cosine_of(1, 0, 1), 0.0);
  EXPECT_EQ(sign_of(-3), -1.0);
  EXPECT_EQ(sign_of(0), 0.0);
}


TEST(Metrics, ClassMatricesByHand) {
  // 4 examples: 0,1 train (classes 0,1), 2,3 val (classes 0,1).
  //   K = [[ 4,  2, -1,  0],
  //        [ 2,  1,  1, -2],
  //        [-1,  1,  9,  3],
  //        [ 0, -2,  3,  4]]
  std::vector<double> K{4, 2, -1, 0, 2, 1, 1, -2, -1, 1, 9, 3, 0, -2, 3, 4};
  std::vector<double> diag{4, 1, 9, 4};
  ClassStiffnessAccumulator acc({0, 1, 0, 1}, {Split::train, Split::train, Split::val, Split::val}, 2);
  acc.add_tile(0, 0, 4, 4, K.data(), diag, false);
  test_support::OneRank self;
  auto r = acc.reduce(self);
  const auto& tt = r[kTrainTrain];
  // train-train: only (0,1) and (1,0), both cos = 2 / sqrt(4*1) = 1.
  EXPECT_EQ(tt.pairs, (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_TRUE(std::isnan(tt.cosine[0]));
  EXPECT_DOUBLE_EQ(tt.cosine[1], 1.0);
  EXPECT_DOUBLE_EQ(tt.between_cosine, 1.0);
  EXPECT_TRUE(std::isnan(tt.within_cosine));
  const auto& tv = r[kTrainVal];
  // train-val: (0,2) cos -1/6, (0,3) 0, (1,2) 1/3, (1,3) -2/2 = -1.
  EXPECT_DOUBLE_EQ(tv.cosine[0], -1.0 / 6);
  EXPECT_DOUBLE_EQ(tv.cosine[1], 0.0);
  EXPECT_DOUBLE_EQ(tv.cosine[2], 1.0 / 3);
  EXPECT_DOUBLE_EQ(tv.cosine[3], -1.0);
  EXPECT_DOUBLE_EQ(tv.sign[1], 0.0);
  EXPECT_DOUBLE_EQ(tv.within_cosine, (-1.0 / 6 - 1.0) / 2);
  EXPECT_DOUBLE_EQ(tv.between_cosine, (0.0 + 1.0 / 3) / 2);
  EXPECT_DOUBLE_EQ(tv.within_sign, -1.0);
  const auto& vv = r[kValVal];
  EXPECT_DOUBLE_EQ(vv.cosine[1], 3.0 / 6);
  EXPECT_EQ(vv.pairs[1], 1);
}

TEST(StoreK, RulesSelectTheMeasurementsThatWriteK) {
  // every / none / last regardless of N; auto: every while N <= 10000, then last only.
  EXPECT_TRUE(stores_k("every", 3, 10, 50000));
  EXPECT_FALSE(stores_k("none", 10, 10, 50));
  EXPECT_FALSE(stores_k("last", 3, 10, 50));
  EXPECT_TRUE(stores_k("last", 10, 10, 50));
  EXPECT_TRUE(stores_k("auto", 0, 10, kStoreAllUpTo));
  EXPECT_FALSE(stores_k("auto", 0, 10, kStoreAllUpTo + 1));
  EXPECT_TRUE(stores_k("auto", 10, 10, kStoreAllUpTo + 1));
  EXPECT_TRUE(stores_k("0,7", 7, 10, 50));
  EXPECT_FALSE(stores_k("0,7", 8, 10, 50));
}

TEST(StoreK, BadValuesAreRefusedByName) {
  Config c;
  c.store_k = "sometimes";
  EXPECT_THROW(validate(c), Error);
  c.store_k = "0,-3";
  EXPECT_THROW(validate(c), Error);
  c.store_k = "0,5";
  EXPECT_NO_THROW(validate(c));
  c.k_dtype = "float16";
  try {
    validate(c);
    FAIL() << "--k-dtype float16 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--k-dtype"), std::string::npos) << e.what();
  }
}
