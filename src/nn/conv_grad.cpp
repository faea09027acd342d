#include "stiffness/nn/conv_grad.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "stiffness/runtime/blas.hpp"

namespace stiffness {

namespace {

namespace F = torch::nn::functional;

// The example copied into the interior of a zero-bordered buffer
// (C x Hp x Wp, border zeroed once by the caller).
template <typename S>
void pad_example(const S* x, int64_t C, int64_t H, int64_t W, int64_t pad, S* padded) {
  const int64_t Hp = H + 2 * pad, Wp = W + 2 * pad;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      std::memcpy(padded + (c * Hp + h + pad) * Wp + pad, x + (c * H + h) * W, sizeof(S) * W);
}

// Stride 1: "wide" im2col over Ho x Wp positions (the padded width): row
// (c, ki, kj) is then ONE contiguous run of the padded plane, from (ki, kj)
// on. The Wp - Wo extra positions per output row meet zero columns of the
// wide delta, so they add exact zeros. Output row by output row with bounds
// checks (7-element copies on a 7 x 7 layer) the unfold would cost as much
// as its GEMM.
template <typename S>
void im2col_wide(const S* padded, int64_t C, int64_t Hp, int64_t Wp, int64_t k, int64_t Ho, S* cols) {
  const int64_t Tw = Ho * Wp;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t kj = 0; kj < k; ++kj)
        std::memcpy(cols + ((c * k + ki) * k + kj) * Tw, padded + (c * Hp + ki) * Wp + kj, sizeof(S) * Tw);
}

// Any stride: the plain im2col, C k k rows of Ho Wo positions.
template <typename S>
void im2col_strided(const S* padded, int64_t C, int64_t Hp, int64_t Wp, int64_t k, int64_t stride, int64_t Ho,
                    int64_t Wo, S* cols) {
  const int64_t T = Ho * Wo;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t ki = 0; ki < k; ++ki)
      for (int64_t kj = 0; kj < k; ++kj) {
        S* row = cols + ((c * k + ki) * k + kj) * T;
        const S* plane = padded + (c * Hp + ki) * Wp + kj;
        for (int64_t ho = 0; ho < Ho; ++ho)
          for (int64_t wo = 0; wo < Wo; ++wo) row[ho * Wo + wo] = plane[ho * stride * Wp + wo * stride];
      }
}

// Sum of n numbers in 8 independent partial sums: a single running sum is
// bound by the add's latency, a large share of a thin layer's time.
template <typename S>
S sum(const S* r, int64_t n) {
  S acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t t = 0;
  for (; t + 8 <= n; t += 8)
    for (int j = 0; j < 8; ++j) acc[j] += r[t + j];
  S s = 0;
  for (; t < n; ++t) s += r[t];
  for (int j = 0; j < 8; ++j) s += acc[j];
  return s;
}

template <typename S>
void rows_blas(const torch::Tensor& x, const torch::Tensor& d, int64_t k, int64_t stride, int64_t pad, bool bias,
               torch::Tensor& dst) {
  const int64_t n = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t p = d.size(1), Ho = d.size(2), Wo = d.size(3), T = Ho * Wo, ckk = C * k * k;
  const int64_t Hp = H + 2 * pad, Wp = W + 2 * pad;
  const bool wide = stride == 1;
  const int64_t Tk = wide ? Ho * Wp : T;  // the GEMM's inner dimension
  const S* xs = x.data_ptr<S>();
  const S* ds = d.data_ptr<S>();
  S* out = dst.data_ptr<S>();
  const int64_t ld = dst.stride(0);
  const auto gemm = blas_gemm<S>();
  ScopedBlasThreads single(1);  // LibTorch's threads each run their examples
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    // Zeroed once: the padding border and the wide delta's extra columns
    // are never written. The wide rows of the last plane read k - 1
    // numbers past it.
    std::vector<S> padded(static_cast<size_t>(C * Hp * Wp + k), S(0));
    std::vector<S> cols(static_cast<size_t>(ckk * Tk));
    std::vector<S> dwide(wide ? static_cast<size_t>(p * Tk) : 0, S(0));
    const int m = static_cast<int>(ckk), nn = static_cast<int>(p), kk = static_cast<int>(Tk);
    const S one = 1, zero = 0;
    for (int64_t i = b; i < e; ++i) {
      pad_example(xs + i * C * H * W, C, H, W, pad, padded.data());
      const S* di = ds + i * p * T;
      const S* dk = di;
      if (wide) {
        im2col_wide(padded.data(), C, Hp, Wp, k, Ho, cols.data());
        for (int64_t r = 0; r < p * Ho; ++r) std::memcpy(dwide.data() + r * Wp, di + r * Wo, sizeof(S) * Wo);
        dk = dwide.data();
      } else {
        im2col_strided(padded.data(), C, Hp, Wp, k, stride, Ho, Wo, cols.data());
      }
      S* row = out + i * ld;
      // Column-major: row^T (ckk x p) = cols (Tk x ckk)^T * delta_i^T (Tk x p).
      gemm("T", "N", &m, &nn, &kk, &one, cols.data(), &kk, dk, &kk, &zero, row, &m);
      if (bias)
        for (int64_t o = 0; o < p; ++o) row[p * ckk + o] = sum(di + o * T, T);
    }
  });
}

// Stride 1 without im2col: the example channels-last in a zero-bordered
// buffer (Hp Wp + k positions x C) and its delta channels-last over the wide
// positions (Ho Wp x p, zero where wo >= Wo). For kernel offset (ki, kj),
// the padded positions from ki Wp + kj on are, row for row, the inputs that
// meet the wide output positions, so
//   dW[:, :, ki, kj] (p x C) = delta_wide^T  x_hwc[ki Wp + kj, + Ho Wp)
// is one GEMM on a plain strided matrix; k^2 GEMMs per example, gathered
// into the weight's order after. x and d come NCHW or, as the model's
// channels-last layers give them (x_cl, d_cl), NHWC: then each row of the
// buffers is one copy.
template <typename S>
void rows_offsets(const torch::Tensor& x, const torch::Tensor& d, bool x_cl, bool d_cl, int64_t k, int64_t pad,
                  bool bias, torch::Tensor& dst) {
  const int64_t n = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t p = d.size(1), Ho = d.size(2), Wo = d.size(3), T = Ho * Wo, ckk = C * k * k;
  const int64_t Hp = H + 2 * pad, Wp = W + 2 * pad, Tw = Ho * Wp;
  const S* xs = x.data_ptr<S>();
  const S* ds = d.data_ptr<S>();
  S* out = dst.data_ptr<S>();
  const int64_t ld = dst.stride(0);
  const auto gemm = blas_gemm<S>();
  ScopedBlasThreads single(1);  // LibTorch's threads each run their examples
  at::parallel_for(0, n, 1, [&](int64_t b, int64_t e) {
    std::vector<S> xh(static_cast<size_t>((Hp * Wp + k) * C), S(0));  // border zeroed once
    std::vector<S> dw(static_cast<size_t>(Tw * p), S(0));             // wide columns zeroed once
    std::vector<S> r(static_cast<size_t>(k * k * p * C));
    std::vector<S> acc(static_cast<size_t>(p));
    const int m = static_cast<int>(C), nn = static_cast<int>(p), kk = static_cast<int>(Tw);
    const int lda = static_cast<int>(C), ldb = static_cast<int>(p);
    const S one = 1, zero = 0;
    for (int64_t i = b; i < e; ++i) {
      const S* xi = xs + i * C * H * W;
      if (x_cl)
        for (int64_t h = 0; h < H; ++h)
          std::memcpy(xh.data() + ((h + pad) * Wp + pad) * C, xi + h * W * C, sizeof(S) * W * C);
      else
        for (int64_t c = 0; c < C; ++c)
          for (int64_t h = 0; h < H; ++h) {
            S* dst_row = xh.data() + ((h + pad) * Wp + pad) * C + c;
            const S* src = xi + (c * H + h) * W;
            for (int64_t w = 0; w < W; ++w) dst_row[w * C] = src[w];
          }
      const S* di = ds + i * p * T;
      if (d_cl)
        for (int64_t ho = 0; ho < Ho; ++ho)
          std::memcpy(dw.data() + ho * Wp * p, di + ho * Wo * p, sizeof(S) * Wo * p);
      else
        for (int64_t o = 0; o < p; ++o)
          for (int64_t ho = 0; ho < Ho; ++ho) {
            S* dst_row = dw.data() + ho * Wp * p + o;
            const S* src = di + (o * Ho + ho) * Wo;
            for (int64_t wo = 0; wo < Wo; ++wo) dst_row[wo * p] = src[wo];
          }
      // Column-major: R_s^T (C x p) = x_s^T (C x Tw) * delta_wide (Tw x p).
      for (int64_t s = 0; s < k * k; ++s)
        gemm("N", "T", &m, &nn, &kk, &one, xh.data() + ((s / k) * Wp + s % k) * C, &lda, dw.data(), &ldb, &zero,
             r.data() + s * p * C, &m);
      S* row = out + i * ld;
      for (int64_t o = 0; o < p; ++o)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t s = 0; s < k * k; ++s) row[(o * C + c) * k * k + s] = r[(s * p + o) * C + c];
      if (bias) {  // sums over the wide positions (zeros past Wo), p at a time
        std::fill(acc.begin(), acc.end(), S(0));
        for (int64_t t = 0; t < Tw; ++t)
          for (int64_t o = 0; o < p; ++o) acc[o] += dw[t * p + o];
        for (int64_t o = 0; o < p; ++o) row[p * ckk + o] = acc[o];
      }
    }
  });
}

}  // namespace

void conv_weight_rows(const torch::Tensor& input, const torch::Tensor& delta, int64_t kernel, int64_t stride,
                      int64_t pad, bool bias, torch::Tensor dst, ConvRowsForm form) {
  RECORD_FUNCTION("conv_weight_rows", std::vector<c10::IValue>());
  const int64_t n = input.size(0), p = delta.size(1), T = delta.size(2) * delta.size(3);
  const int64_t ckk = input.size(1) * kernel * kernel;
  const auto type = input.scalar_type();
  const bool blas = form != ConvRowsForm::torch && input.is_cpu() && dst.stride(1) == 1 && type == delta.scalar_type() &&
                    type == dst.scalar_type() &&
                    ((type == torch::kFloat32 && blas_gemm<float>()) || (type == torch::kFloat64 && blas_gemm<double>())) &&
                    ckk <= INT_MAX && T * 2 <= INT_MAX && p <= INT_MAX;
  if (!blas) {
    // LibTorch: im2col of the batch (n x C k k x T), one bmm; slower, but
    // it runs on every device and dtype.
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
  // Offsets for stride 1 from 8 input channels on; im2col otherwise: the
  // offsets form's k^2 GEMMs are C wide, too thin with 1 or 3 channels;
  // from 8 channels on it was faster on every layer measured but one, where
  // it was close (docs/benchmarks.md, "Measurements behind the code").
  const bool offsets = stride == 1 && (form == ConvRowsForm::offsets ||
                                       (form == ConvRowsForm::automatic && input.size(1) >= 8));
  // Channels-last tensors stay so for the offsets form (no NCHW copy).
  auto nhwc = [&](const torch::Tensor& t) {
    return offsets && !t.is_contiguous() && t.is_contiguous(torch::MemoryFormat::ChannelsLast);
  };
  const bool x_cl = nhwc(input), d_cl = nhwc(delta);
  auto x = x_cl ? input : input.contiguous();
  auto d = d_cl ? delta : delta.contiguous();
  if (type == torch::kFloat32) {
    if (offsets)
      rows_offsets<float>(x, d, x_cl, d_cl, kernel, pad, bias, dst);
    else
      rows_blas<float>(x, d, kernel, stride, pad, bias, dst);
  } else {
    if (offsets)
      rows_offsets<double>(x, d, x_cl, d_cl, kernel, pad, bias, dst);
    else
      rows_blas<double>(x, d, kernel, stride, pad, bias, dst);
  }
}

}  // namespace stiffness
