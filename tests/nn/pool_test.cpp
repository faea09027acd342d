#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "stiffness/nn/pool.hpp"

using namespace stiffness;

namespace {

// Values and input gradients of our pooling and LibTorch's for the same
// input and the same upstream gradient must be identical, bit for bit.
void expect_same_as_torch(const torch::Tensor& input) {
  auto a = input.clone().requires_grad_(true), b = input.clone().requires_grad_(true);
  auto ya = max_pool2x2(a), yb = torch::max_pool2d(b, 2);
  ASSERT_EQ(ya.sizes(), yb.sizes());
  EXPECT_TRUE(torch::equal(ya.isnan(), yb.isnan()));
  EXPECT_TRUE(torch::equal(torch::nan_to_num(ya), torch::nan_to_num(yb)));
  auto up = torch::randn(ya.sizes(), input.options());
  auto ga = torch::autograd::grad({ya}, {a}, {up})[0];
  auto gb = torch::autograd::grad({yb}, {b}, {up})[0];
  EXPECT_TRUE(torch::equal(ga, gb));
}

}  // namespace

TEST(MaxPool2x2, MatchesTorchOnRandomInputsEvenAndOddSizes) {
  torch::manual_seed(1);
  expect_same_as_torch(torch::randn({3, 4, 8, 6}, torch::kFloat64));
  expect_same_as_torch(torch::randn({2, 3, 7, 5}, torch::kFloat32));  // floor: last row/column dropped
}

TEST(MaxPool2x2, TiesGoToTheFirstMaximumLikeTorch) {
  // Rounded values make many ties inside windows, as a zero background does.
  torch::manual_seed(2);
  auto x = torch::randint(0, 2, {2, 3, 6, 6}).to(torch::kFloat64);
  expect_same_as_torch(x);
  expect_same_as_torch(torch::zeros({1, 1, 4, 4}));
  auto inf = torch::full({1, 1, 2, 2}, -std::numeric_limits<double>::infinity(), torch::kFloat64);
  expect_same_as_torch(inf);
}

TEST(MaxPool2x2, NanPropagatesLikeTorch) {
  auto x = torch::arange(16, torch::kFloat64).view({1, 1, 4, 4});
  x[0][0][1][0] = std::numeric_limits<double>::quiet_NaN();
  expect_same_as_torch(x);
}
