#include <gtest/gtest.h>

#include "stiffness/analysis/schedule.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness;

namespace {
StoreK rule(const std::string& text) { return parse_store_k(text); }
}  // namespace

TEST(Schedule, IncludesZeroExplicitAndLogSpacedSteps) {
  auto s = measurement_steps({5, 5000}, 4, 1000);
  EXPECT_EQ(s, (std::vector<int64_t>{0, 1, 5, 10, 100, 1000}));
  EXPECT_EQ(measurement_steps({}, 0, 50), (std::vector<int64_t>{0}));
  EXPECT_EQ(measurement_steps({}, 3, 0), (std::vector<int64_t>{0}));
  EXPECT_EQ(measurement_steps({}, 0, 35, 10), (std::vector<int64_t>{0, 10, 20, 30}));
  auto t = measurement_steps({}, 20, 7);  // more points than steps: unique, within range
  EXPECT_EQ(t, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(StoreK, RulesSelectTheMeasurementsThatWriteK) {
  // every / none / last regardless of N; auto: every while N <= 10000, then last only.
  EXPECT_TRUE(stores_k(rule("every"), 3, 10, 50000));
  EXPECT_FALSE(stores_k(rule("none"), 10, 10, 50));
  EXPECT_FALSE(stores_k(rule("last"), 3, 10, 50));
  EXPECT_TRUE(stores_k(rule("last"), 10, 10, 50));
  EXPECT_TRUE(stores_k(rule("auto"), 0, 10, kStoreAllUpTo));
  EXPECT_FALSE(stores_k(rule("auto"), 0, 10, kStoreAllUpTo + 1));
  EXPECT_TRUE(stores_k(rule("auto"), 10, 10, kStoreAllUpTo + 1));
  EXPECT_TRUE(stores_k(rule("0,7"), 7, 10, 50));
  EXPECT_FALSE(stores_k(rule("0,7"), 8, 10, 50));
}

TEST(StoreK, ParsesAndPrintsEveryForm) {
  for (const char* text : {"every", "last", "none", "auto", "0,7", "12", "7,0,7", ""})
    EXPECT_EQ(to_string(parse_store_k(text)), text);
  EXPECT_EQ(parse_store_k("auto").kind, StoreK::Kind::automatic);
  EXPECT_EQ(parse_store_k(" 0, 7").steps, (std::vector<int64_t>{0, 7}));
  // A list prints as the user wrote it: the run file's options are the text given.
  EXPECT_EQ(to_string(parse_store_k(" 0, 7")), " 0, 7");
  StoreK built;
  built.kind = StoreK::Kind::steps;
  built.steps = {3, 5};
  EXPECT_EQ(to_string(built), "3,5");
  EXPECT_EQ(StoreK{}, parse_store_k("auto"));
  EXPECT_NE(parse_store_k("0,7"), parse_store_k("7,0"));
}

TEST(StoreK, BadTextNamesTheOptionAndTheForms) {
  try {
    parse_store_k("sometimes");
    FAIL() << "--store-k sometimes accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "--store-k: expected every, last, none, auto or a comma list of steps, got 'sometimes'");
  }
}
