// Per-example weight gradients of a 2-D convolution, written straight into
// the rows of a gradient block. For example i with input x_i (C x H x W)
// and delta_i = d(loss_i)/d(output_i) (p x T, T = Ho Wo positions):
//   dW_i = delta_i  cols_i^T      (p x C k k, ordered like weight.view(p, -1))
//   db_i = delta_i  1             (p)
// where cols_i (C k k x T) is x_i's im2col. Each thread takes its share of
// the examples, one at a time in buffers that stay in cache, with a
// single-threaded BLAS: either the example's im2col and one GEMM, or (stride
// 1, 8 channels or more) the example channels-last and k^2 GEMMs, one per
// kernel offset, on shifted views of it (no im2col). No n x C k k x T
// tensor and no LibTorch bmm, whose per-example views and transposed
// operand made it, with F::unfold, most of the CNN's gradient pass
// (docs/benchmarks.md, "Convolutions").
#pragma once

#include <torch/torch.h>

namespace stiffness {

// How: automatic (offsets for stride 1 from 8 input channels on, im2col
// otherwise), or one form forced (for tests and bench/conv_forms): im2col,
// offsets (stride 1 only; other strides use im2col), or torch (LibTorch's
// F::unfold of the batch and one bmm, the only form for other devices and
// dtypes than float32/float64 on a CPU).
enum class ConvRowsForm { automatic, im2col, offsets, torch };

// input: n x C x H x W; delta: n x p x Ho x Wo (any strides); dst: n x
// (p C k k [+ p]) with unit column stride, weights first, then the biases
// when `bias`.
void conv_weight_rows(const torch::Tensor& input, const torch::Tensor& delta, int64_t kernel, int64_t stride,
                      int64_t pad, bool bias, torch::Tensor dst, ConvRowsForm form = ConvRowsForm::automatic);

}  // namespace stiffness
