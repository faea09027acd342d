#include <gtest/gtest.h>

#include <sstream>

#include "stiffness/config/choices.hpp"
#include "stiffness/runtime/error.hpp"

using namespace stiffness;

namespace {
template <class E>
void round_trips() {
  for (const auto& name : choice_names<E>()) {
    const E e = parse_choice<E>(name, "x");
    EXPECT_EQ(to_string(e), name);
    std::ostringstream o;
    o << e;
    EXPECT_EQ(o.str(), name);
  }
}
}  // namespace

TEST(Choices, EveryNameParsesAndPrintsBack) {
  round_trips<DataFormat>();
  round_trips<Model>();
  round_trips<Precision>();
  round_trips<Norm>();
  round_trips<Optimizer>();
  round_trips<GradRequest>();
  round_trips<DeviceRequest>();
  EXPECT_EQ(to_string(GradRequest::automatic), "auto");
  EXPECT_EQ(to_string(DeviceRequest::automatic), "auto");
  EXPECT_EQ(parse_choice<Model>("resnet20", "model"), Model::resnet20);
}

TEST(Choices, UnknownNameNamesTheOptionAndTheValues) {
  try {
    parse_choice<Norm>("layer", "norm");
    FAIL() << "--norm layer accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--norm: expected none, group or batch, got 'layer'");
  }
  try {
    parse_choice<Precision>("half", "k-dtype", {"float64", "float32"});
    FAIL() << "--k-dtype half accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--k-dtype: expected float64 or float32, got 'half'");
  }
  EXPECT_THROW(parse_choice<Model>("MLP", "model"), Error);  // names are case-sensitive
}

TEST(Choices, ElementSizeOfKPrecisions) {
  EXPECT_EQ(dtype_size(element_type(Precision::float32)), 4u);
  EXPECT_EQ(dtype_size(element_type(Precision::float64)), 8u);
}
