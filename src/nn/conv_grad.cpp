#include "stiffness/nn/conv_grad.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

namespace stiffness {

namespace {

namespace F = torch::nn::functional;

// Fortran BLAS GEMM, column-major, looked up in the BLAS that LibTorch
// loaded (as src/nn/blas.cpp does for SYRK).
template <typename S>
using GemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const S*, const S*,
                        const int*, const S*, const int*, const S*, S*, const int*);

template <typename S>
GemmFn<S> gemm_fn();
template <>
GemmFn<float> gemm_fn<float>() {
  static const auto f = reinterpret_cast<GemmFn<float>>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return f;
}
template <>
GemmFn<double> gemm_fn<double>() {
  static const auto f = reinterpret_cast<GemmFn<double>>(dlsym(RTLD_DEFAULT, "dgemm_"));
  return f;
}

// One example's im2col, C k k rows of T = Ho Wo numbers (zeros where the
// window hangs over the padding).
template <typename S>
void im2col(const S* x, int64_t C, int64_t H, int64_t W, int64_t k, int64_t stride, int64_t pad, int64_t Ho,
            int64_t Wo, S* cols) {
  const int64_t T = Ho * Wo;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t kj = 0; kj < k; ++kj) {
        S* row = cols + ((c * k + ki) * k + kj) * T;
        // Output columns whose input column wo*stride - pad + kj is inside.
        const int64_t lo = std::min(Wo, std::max<int64_t>(0, (pad - kj + stride - 1) / stride));
        const int64_t hi = std::max(lo, std::min(Wo, (W - 1 + pad - kj) / stride + 1));
        for (int64_t ho = 0; ho < Ho; ++ho) {
          S* r = row + ho * Wo;
          const int64_t hin = ho * stride - pad + ki;
          if (hin < 0 || hin >= H) {
            std::fill(r, r + Wo, S(0));
            continue;
          }
          const S* xr = x + (c * H + hin) * W - pad + kj;
          std::fill(r, r + lo, S(0));
          if (stride == 1)
            std::memcpy(r + lo, xr + lo, sizeof(S) * (hi - lo));
          else
            for (int64_t wo = lo; wo < hi; ++wo) r[wo] = xr[wo * stride];
          std::fill(r + hi, r + Wo, S(0));
        }
      }
}

// The BLAS's own threads set to 1 while LibTorch's threads each run their
// examples, restored on exit (also on a throw).
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() {
    using GetFn = int (*)();
    get_ = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    set_ = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (get_ && set_) {
      was_ = get_();
      if (was_ > 1) set_(1);
    }
  }
  ~SingleThreadedBlas() {
    if (set_ && was_ > 1) set_(was_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  using SetFn = void (*)(int);
  int (*get_)() = nullptr;
  SetFn set_ = nullptr;
  int was_ = 0;
};

template <typename S>
void rows_blas(const torch::Tensor& x, const torch::Tensor& d, int64_t k, int64_t stride, int64_t pad, bool bias,
               torch::Tensor& dst) {
  const int64_t n = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t p = d.size(1), Ho = d.size(2), Wo = d.size(3), T = Ho * Wo, ckk = C * k * k;
  const S* xs = x.data_ptr<S>();
  const S* ds = d.data_ptr<S>();
  S* out = dst.data_ptr<S>();
  const int64_t ld = dst.stride(0);
  const auto gemm = gemm_fn<S>();
  SingleThreadedBlas single;
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    std::vector<S> cols(static_cast<size_t>(ckk * T));
    const int m = static_cast<int>(ckk), nn = static_cast<int>(p), kk = static_cast<int>(T);
    const S one = 1, zero = 0;
    for (int64_t i = b; i < e; ++i) {
      im2col(xs + i * C * H * W, C, H, W, k, stride, pad, Ho, Wo, cols.data());
      const S* di = ds + i * p * T;
      S* row = out + i * ld;
      // Column-major: row^T (ckk x p) = cols (T x ckk)^T * delta_i^T (T x p).
      gemm("T", "N", &m, &nn, &kk, &one, cols.data(), &kk, di, &kk, &zero, row, &m);
      if (bias)
        for (int64_t o = 0; o < p; ++o) {
          const S* r = di + o * T;
          S s = 0;
          for (int64_t t = 0; t < T; ++t) s += r[t];
          row[p * ckk + o] = s;
        }
    }
  });
}

}  // namespace

void conv_weight_rows(const torch::Tensor& input, const torch::Tensor& delta, int64_t kernel, int64_t stride,
                      int64_t pad, bool bias, torch::Tensor dst) {
  const int64_t n = input.size(0), p = delta.size(1), T = delta.size(2) * delta.size(3);
  const int64_t ckk = input.size(1) * kernel * kernel;
  const auto type = input.scalar_type();
  const bool blas = input.is_cpu() && dst.stride(1) == 1 && type == delta.scalar_type() &&
                    type == dst.scalar_type() &&
                    ((type == torch::kFloat32 && gemm_fn<float>()) || (type == torch::kFloat64 && gemm_fn<double>())) &&
                    ckk <= INT_MAX && T <= INT_MAX && p <= INT_MAX;
  if (!blas) {
    // LibTorch: im2col of the batch (n x C k k x T), one bmm.
    auto d = delta.flatten(2);
    auto cols = F::unfold(input, F::UnfoldFuncOptions(kernel).stride(stride).padding(pad));
    auto weight = dst.narrow(1, 0, p * ckk).view({n, p, ckk});
    torch::bmm_out(weight, d, cols.transpose(1, 2));
    if (bias) {
      auto b = dst.narrow(1, p * ckk, p);
      torch::sum_out(b, d, 2);
    }
    return;
  }
  auto x = input.contiguous();
  auto d = delta.contiguous();
  if (type == torch::kFloat32)
    rows_blas<float>(x, d, kernel, stride, pad, bias, dst);
  else
    rows_blas<double>(x, d, kernel, stride, pad, bias, dst);
}

}  // namespace stiffness
