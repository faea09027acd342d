// A BLAS routine that LibTorch 1.13 does not offer, called directly in the
// BLAS that LibTorch itself loaded (stiffness/runtime/blas.hpp), so the
// process holds one BLAS. It falls back to the LibTorch operation when the
// routine is missing or the dtype is not float32/float64.
#pragma once

#include <torch/torch.h>

namespace stiffness {

// R R^T (m x m, both triangles) with SYRK: half the multiply-adds of a GEMM
// and symmetric by construction. R: m x k with unit column stride.
torch::Tensor syrk_gram(torch::Tensor R);

}  // namespace stiffness
