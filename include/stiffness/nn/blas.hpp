// BLAS routines that LibTorch 1.13 does not use where we need them, called
// directly in the BLAS that LibTorch itself loaded (libblas.so.3, looked up
// at run time), so the process holds one BLAS. Each falls back to the
// LibTorch operation when the routine is missing or the dtype is not
// float32/float64.
#pragma once

#include <torch/torch.h>

namespace stiffness {

// R R^T (m x m, both triangles) with SYRK: half the multiply-adds of a GEMM
// and symmetric by construction. R: m x k with unit column stride.
torch::Tensor syrk_gram(torch::Tensor R);

// out[i] = A[i] B[i]^T for every i: A n x p x k and B n x q x k contiguous,
// out an n x p x q view whose rows are contiguous (row stride q, any stride
// between examples: a slice of a wider row buffer). One GEMM call per
// example straight into BLAS: LibTorch's CPU bmm wraps each example in
// tensor views and checks (for the CNN's conv2, 74 ms against ~25 ms here
// for 500 examples on one thread).
void batched_gemm_nt(const torch::Tensor& A, const torch::Tensor& B, torch::Tensor out);

}  // namespace stiffness
