#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>

#include "stiffness/nn/blas.hpp"
#include "stiffness/runtime/blas.hpp"

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

// LibTorch loads the BLAS: every routine the program calls is found in it.
TEST(Blas, RoutinesAreFoundInLibTorchsBlas) {
  const auto& r = blas_routines();
  EXPECT_NE(r.sgemm, nullptr);
  EXPECT_NE(r.dgemm, nullptr);
  EXPECT_NE(r.ssyrk, nullptr);
  EXPECT_NE(r.dsyrk, nullptr);
  EXPECT_EQ(blas_gemm<float>(), r.sgemm);
  EXPECT_EQ(blas_syrk<double>(), r.dsyrk);
}

// The scoped guard sets OpenBLAS's thread count and restores it, also when
// nested, when left by a throw, and when the count already was the one asked.
TEST(Blas, ScopedThreadsSetAndRestore) {
  if (openblas_core().empty()) GTEST_SKIP() << "LibTorch's BLAS is not OpenBLAS: " << blas_in_use();
  ASSERT_TRUE(ScopedBlasThreads::available());
  ASSERT_TRUE(set_blas_threads(2));
  ASSERT_EQ(blas_threads(), 2);
  {
    ScopedBlasThreads outer(1);
    EXPECT_EQ(blas_threads(), 1);
    {
      ScopedBlasThreads same(1);
      EXPECT_EQ(blas_threads(), 1);
      ScopedBlasThreads inner(3);
      EXPECT_EQ(blas_threads(), 3);
    }
    EXPECT_EQ(blas_threads(), 1);
  }
  EXPECT_EQ(blas_threads(), 2);
  try {
    ScopedBlasThreads guard(1);
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(blas_threads(), 2);
  set_blas_threads(1);  // as the tests' environment has it (OPENBLAS_NUM_THREADS=1)
}
