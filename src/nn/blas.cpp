#include "stiffness/nn/blas.hpp"

#include <climits>

#include "stiffness/runtime/blas.hpp"

namespace stiffness {

namespace {

bool fits_int(std::initializer_list<int64_t> v) {
  for (auto x : v)
    if (x < 0 || x > INT_MAX) return false;
  return true;
}

template <typename S>
void syrk(SyrkFn<S> fn, const torch::Tensor& R, torch::Tensor& C) {
  const int m = static_cast<int>(R.size(0)), k = static_cast<int>(R.size(1));
  const int lda = static_cast<int>(R.stride(0));
  const S one = 1, zero = 0;
  // Column-major R^T (k x m): C = (R^T)^T R^T is SYRK's ("U", "T") case;
  // its upper triangle in column-major order is the lower one here.
  fn("U", "T", &m, &k, &one, R.data_ptr<S>(), &lda, &zero, C.data_ptr<S>(), &m);
}

}  // namespace

torch::Tensor syrk_gram(torch::Tensor R) {
  const auto ssyrk = blas_syrk<float>();
  const auto dsyrk = blas_syrk<double>();
  const bool f32 = R.scalar_type() == torch::kFloat32 && ssyrk;
  const bool f64 = R.scalar_type() == torch::kFloat64 && dsyrk;
  // The BLAS is the CPU's: on a GPU (and for other dtypes) torch's GEMM.
  if (!R.is_cpu() || !(f32 || f64) || R.size(0) == 0 || R.size(1) == 0 || !fits_int({R.size(0), R.size(1), R.stride(0)}))
    return torch::mm(R, R.t());
  if (R.stride(1) != 1 || R.stride(0) < R.size(1)) R = R.contiguous();
  auto C = torch::empty({R.size(0), R.size(0)}, R.options());
  if (f32)
    syrk<float>(ssyrk, R, C);
  else
    syrk<double>(dsyrk, R, C);
  return C.tril() + C.tril(-1).t();
}

}  // namespace stiffness
