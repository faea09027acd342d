#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "parse_args.hpp"
#include "stiffness/config/options.hpp"

using namespace stiffness;
using test_support::error_of;
using test_support::parse;

namespace {

// A value other than the default for each option that takes one.
const std::map<std::string, std::string> kOther{
    {"data-dir", "/tmp/d"}, {"num-coarse", "3"}, {"synthetic-train-per-class", "7"},
    {"synthetic-val-per-class", "7"}, {"synthetic-size", "5"}, {"dataset", "x"}, {"num-classes", "3"},
    {"train-limit", "9"}, {"val-limit", "9"}, {"widths", "7"}, {"channels", "7"}, {"norm-groups", "2"},
    {"vocab-size", "9"}, {"embed-dim", "8"}, {"heads", "2"}, {"layers", "1"}, {"script", "m.pt"},
    {"lr", "0.5"}, {"momentum", "0.5"}, {"batch-size", "9"}, {"epochs", "2"}, {"steps", "9"}, {"seed", "9"},
    {"eval-examples", "9"}, {"measure-steps", "9"}, {"measure-log", "2"}, {"measure-epochs", "false"},
    {"per-class", "9"}, {"val-per-class", "9"}, {"sample-seed", "9"}, {"distance-bins", "9"},
    {"store-k", "0,9"}, {"panel-mb", "99"}, {"save-params", "false"}, {"output", "o.h5"}, {"threads", "2"},
    {"gpu-timeout", "9"}, {"progress-seconds", "9"}, {"checkpoint-minutes", "9"}};

// The command-line arguments that set option `o` to a value other than its default.
std::vector<std::string> other_value(const Option& o) {
  if (!o.in_ini) return {"--" + o.name};  // a switch
  if (!o.choices.empty())
    for (const auto& name : o.choices)
      if (name != o.text(Config{})) return {"--" + o.name, name};
  return {"--" + o.name, kOther.at(o.name)};
}

}  // namespace

TEST(Options, EachOptionOnceInIniOrder) {
  std::vector<std::string> names;
  for (const auto& o : option_table()) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "data-format", "data-dir", "num-coarse", "synthetic-train-per-class",
                       "synthetic-val-per-class", "synthetic-size", "dataset", "num-classes", "train-limit",
                       "val-limit", "model", "widths", "channels", "dtype", "norm", "norm-groups", "vocab-size",
                       "embed-dim", "heads", "layers", "script", "optimizer", "lr", "momentum", "batch-size",
                       "epochs", "steps", "seed", "eval-examples", "measure-steps", "measure-log",
                       "measure-epochs", "per-class", "val-per-class", "sample-seed", "grad-method",
                       "distance-bins", "store-k", "k-dtype", "panel-mb", "save-params", "output", "overwrite",
                       "threads", "device", "gpu-timeout", "progress-seconds", "checkpoint-minutes",
                       "check-only"}));
}

// Setting one option changes that option's member and no other: every
// option has a member of its own.
TEST(Options, EachOptionSetsItsOwnMember) {
  for (const auto& o : option_table()) {
    const auto c = parse(other_value(o)).config;
    EXPECT_EQ(differing_options(c, Config{}), std::vector<std::string>{o.name}) << o.name;
  }
}

TEST(Options, HelpListsEveryOptionWithItsDefault) {
  const auto p = parse({"--help"});
  ASSERT_TRUE(p.help);
  for (const auto& o : option_table()) {
    EXPECT_NE(p.help_text.find("--" + o.name + " "), std::string::npos) << o.name;
    const std::string def = o.text(Config{});
    if (o.in_ini && !def.empty() && def != "true")  // boost shows true as 1
      EXPECT_TRUE(p.help_text.find("--" + o.name + " arg (=") != std::string::npos ||
                  p.help_text.find("--" + o.name + " ] arg (=") != std::string::npos)
          << o.name;
    // A choice's help names every value.
    for (const auto& name : o.choices) EXPECT_NE(o.help.find(name), std::string::npos) << o.name << " " << name;
  }
  EXPECT_NE(p.help_text.find("(=0.001)"), std::string::npos);
  EXPECT_NE(p.help_text.find("-o [ --output ] arg (=results/stiffness.h5)"), std::string::npos);
}

TEST(Options, BadChoiceNamesTheOptionAndTheValues) {
  int choices = 0;
  for (const auto& o : option_table()) {
    if (o.choices.empty()) continue;
    ++choices;
    const std::string e = error_of({"--" + o.name, "nonsense"});
    EXPECT_EQ(e.rfind("--" + o.name + ": expected ", 0), 0u) << e;
    EXPECT_NE(e.find("got 'nonsense'"), std::string::npos) << e;
    for (const auto& name : o.choices) EXPECT_NE(e.find(name), std::string::npos) << e;
  }
  EXPECT_EQ(choices, 8);
  EXPECT_EQ(error_of({"--k-dtype", "float16"}), "--k-dtype: expected float64 or float32, got 'float16'");
  EXPECT_EQ(error_of({"--model", "resnet99"}),
            "--model: expected mlp, cnn, resnet20, transformer or torchscript, got 'resnet99'");
}

// Resuming a checkpoint needs the same values of the options that change
// results; these may differ.
TEST(Options, RunOnlyOptions) {
  std::set<std::string> run_only;
  for (const auto& o : option_table())
    if (o.affects == Affects::run_only) run_only.insert(o.name);
  EXPECT_EQ(run_only, (std::set<std::string>{"threads", "progress-seconds", "checkpoint-minutes", "device",
                                             "gpu-timeout", "panel-mb", "overwrite", "check-only"}));
}

// The results lines are the INI text less the lines of the run-only options.
TEST(Options, ResultsLinesAreTheIniLessRunOnlyLines) {
  for (const auto& c : {Config{}, parse({"--device", "cpu", "--threads", "3", "--panel-mb", "7",
                                         "--model", "cnn", "--store-k", "1,2"})
                                      .config}) {
    std::istringstream in(to_ini(c));
    std::string line, kept, dropped;
    while (std::getline(in, line)) {
      bool run_only = false;
      for (const char* key : {"threads", "progress-seconds", "checkpoint-minutes", "device", "gpu-timeout",
                              "panel-mb"})
        run_only = run_only || line.rfind(std::string(key) + " = ", 0) == 0;
      (run_only ? dropped : kept) += line + "\n";
    }
    EXPECT_EQ(to_ini(c, Affects::results), kept);
    EXPECT_EQ(to_ini(c, Affects::run_only), dropped);
  }
}
