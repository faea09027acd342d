#include <gtest/gtest.h>
#include <torch/torch.h>

#include "stiffness/nn/blas.hpp"

using namespace stiffness;

TEST(Blas, SyrkGramEqualsProductAndIsSymmetric) {
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto R = torch::randn({37, 53}, dtype);
    auto K = syrk_gram(R), ref = torch::mm(R, R.t());
    const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
    EXPECT_LT(((K - ref).abs().max() / ref.abs().max()).item<double>(), tol);
    EXPECT_TRUE(torch::equal(K, K.t()));
    // Rows of a wider buffer (row stride larger than the width).
    auto wide = torch::randn({20, 80}, dtype);
    auto part = wide.narrow(1, 10, 30);
    auto Kp = syrk_gram(part), refp = torch::mm(part, part.t());
    EXPECT_LT(((Kp - refp).abs().max() / refp.abs().max()).item<double>(), tol);
  }
}
