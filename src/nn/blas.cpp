#include "stiffness/nn/blas.hpp"

#include <dlfcn.h>

#include <climits>

namespace stiffness {

namespace {

// Fortran BLAS, column-major. A row-major matrix X (r x c, row stride ld) is
// the column-major X^T (c x r) with leading dimension ld.
template <typename S>
using SyrkFn = void (*)(const char*, const char*, const int*, const int*, const S*, const S*, const int*,
                        const S*, S*, const int*);
template <typename S>
using GemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const S*, const S*,
                        const int*, const S*, const int*, const S*, S*, const int*);

template <typename F>
F lookup(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

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

template <typename S>
void gemm_nt(GemmFn<S> fn, const torch::Tensor& A, const torch::Tensor& B, torch::Tensor& out) {
  const int64_t n = A.size(0);
  const int p = static_cast<int>(A.size(1)), k = static_cast<int>(A.size(2)), q = static_cast<int>(B.size(1));
  const S one = 1, zero = 0;
  const S* a = A.data_ptr<S>();
  const S* b = B.data_ptr<S>();
  S* c = out.data_ptr<S>();
  const int64_t sa = A.stride(0), sb = B.stride(0), sc = out.stride(0);
  // Row-major out_i (p x q) = A_i (p x k) B_i^T: column-major out_i^T (q x p)
  // = B_i (q x k, stored as column-major k x q: "T") times A_i^T (k x p: "N").
  for (int64_t i = 0; i < n; ++i)
    fn("T", "N", &q, &p, &k, &one, b + i * sb, &k, a + i * sa, &k, &zero, c + i * sc, &q);
}

}  // namespace

torch::Tensor syrk_gram(torch::Tensor R) {
  static const auto ssyrk = lookup<SyrkFn<float>>("ssyrk_");
  static const auto dsyrk = lookup<SyrkFn<double>>("dsyrk_");
  const bool f32 = R.scalar_type() == torch::kFloat32 && ssyrk;
  const bool f64 = R.scalar_type() == torch::kFloat64 && dsyrk;
  if (!(f32 || f64) || R.size(0) == 0 || R.size(1) == 0 || !fits_int({R.size(0), R.size(1), R.stride(0)}))
    return torch::mm(R, R.t());
  if (R.stride(1) != 1 || R.stride(0) < R.size(1)) R = R.contiguous();
  auto C = torch::empty({R.size(0), R.size(0)}, R.options());
  if (f32)
    syrk<float>(ssyrk, R, C);
  else
    syrk<double>(dsyrk, R, C);
  return C.tril() + C.tril(-1).t();
}

void batched_gemm_nt(const torch::Tensor& A, const torch::Tensor& B, torch::Tensor out) {
  static const auto sgemm = lookup<GemmFn<float>>("sgemm_");
  static const auto dgemm = lookup<GemmFn<double>>("dgemm_");
  const bool f32 = A.scalar_type() == torch::kFloat32 && sgemm;
  const bool f64 = A.scalar_type() == torch::kFloat64 && dgemm;
  const bool layout_ok = A.is_contiguous() && B.is_contiguous() && out.stride(2) == 1 &&
                         out.stride(1) == out.size(2) && A.scalar_type() == B.scalar_type() &&
                         A.scalar_type() == out.scalar_type();
  if (!(f32 || f64) || !layout_ok || A.size(0) == 0 || A.size(2) == 0 ||
      !fits_int({A.size(1), A.size(2), B.size(1)})) {
    torch::bmm_out(out, A, B.transpose(1, 2));
    return;
  }
  if (f32)
    gemm_nt<float>(sgemm, A, B, out);
  else
    gemm_nt<double>(dgemm, A, B, out);
}

}  // namespace stiffness
