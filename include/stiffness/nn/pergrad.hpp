// Per-example loss gradients and their inner products, exactly, three ways:
//  - loop:        one backward pass per example (the reference; slow)
//  - materialize: per-layer per-example gradient rows g_i from the factors
//  - factor:      per-layer Gram from the factors without forming g_i:
//                 K_l = sum_{t,s} (A_t A_s^T) o (Delta_t Delta_s^T)
// where, for a layer whose weight is shared over T positions, A (n x T x d)
// holds each example's layer input (a column of ones for the bias) and
// Delta (n x T x p) the gradient of that example's loss with respect to the
// layer output. See docs/metrics.md for the derivation.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "stiffness/config/choices.hpp"
#include "stiffness/nn/model.hpp"

namespace stiffness {

enum class GradMethod { loop, materialize, factor };
const char* method_name(GradMethod m);

struct LayerPlan {
  std::string name;
  LayerKind kind = LayerKind::linear;
  GradMethod method = GradMethod::factor;
  int64_t T = 1, d = 0, p = 0;  // positions, input width (+1 bias), output width
  int64_t row_width = 0;        // numbers per example when materialised
  double factor_flops = 0, materialize_flops = 0;  // multiply-adds for the N x N Gram
  std::string why;
};

// Which method each parametrised layer uses. With loop, the whole model is
// one block of per-example gradient rows.
struct GradPlan {
  bool loop = false;
  std::vector<LayerPlan> layers;
  std::string summary() const;  // one line per layer, for logs and the output file
  int64_t rows_width() const;   // numbers per example of all materialised layers together
};

// `requested`: --grad-method. `n_total` is N, the number of examples in the
// Gram matrix, which sets the costs compared by auto.
GradPlan plan_gradients(Net& net, const torch::Tensor& example_input, int64_t n_total, GradRequest requested);
// The same with the method by name (auto | factor | materialize | loop).
GradPlan plan_gradients(Net& net, const torch::Tensor& example_input, int64_t n_total,
                        const std::string& requested);

// One rank's examples in gradient form: {A, Delta} for each factor layer in
// order, then ONE part with the rows of all materialised layers side by side
// (if any); with loop one part {G} for the whole model. LAST, always, the
// scales s (n x 1, model dtype): the other parts hold the gradients of
// loss_i / s_i, with s_i = 1 - p_y (docs/metrics.md), so that a confidently
// fitted example's gradient does not sink into float32's denormal range in
// the Gram's products; gram_tile multiplies K_ij by s_i s_j in float64.
struct GradBlock {
  int64_t n = 0;
  std::vector<torch::Tensor> parts;
};

// Examples go through the network in passes of `pass` (0: sized so that a
// pass holds about 2^23 numbers), each writing its rows of the parts.
GradBlock compute_block(Net& net, const GradPlan& plan, const torch::Tensor& x, const torch::Tensor& y,
                        int64_t pass = 0);

// Examples [begin, end) of a block (views, no copy).
GradBlock slice_block(const GradBlock& b, int64_t begin, int64_t end);

// K[a examples, b examples] in float64, summed over layers. `symmetric`:
// a and b are the same block (a diagonal tile); only half is computed.
torch::Tensor gram_tile(const GradPlan& plan, const GradBlock& a, const GradBlock& b,
                        bool symmetric = false);

// Floating-point operations gram_tile performs for an na x nb tile (the
// GEMMs; 2 per multiply-add). For reporting achieved GFLOP/s.
double gram_flops(const GradPlan& plan, int64_t na, int64_t nb, int64_t num_params);

// Flattening for the ring: a block travels as one contiguous buffer, and the
// receiver rebuilds it from the part shapes with the sender's n.
torch::Tensor pack(const GradBlock& b);
std::vector<std::vector<int64_t>> part_shapes(const GradBlock& b);  // shapes without dim 0
int64_t packed_numel(const std::vector<std::vector<int64_t>>& shapes, int64_t n);
GradBlock unpack(const torch::Tensor& flat, int64_t n, const std::vector<std::vector<int64_t>>& shapes);

// d(cross-entropy of each row)/d(logits) without cancellation: p = softmax
// of the logits, with -(sum of p over the other classes) for the true class
// in place of p_y - 1 (docs/metrics.md). Computed in float64, returned in
// the logits' dtype. Every backward of the per-example code starts here.
torch::Tensor logit_gradient(const torch::Tensor& logits, const torch::Tensor& y);

// The same divided by each row's scale s_i = sum of p over the other classes
// (so that the true class gets -1), and the scales (n x 1), both in the
// logits' dtype. A row whose scale underflows to 0 gets a zero gradient.
torch::Tensor scaled_logit_gradient(const torch::Tensor& logits, const torch::Tensor& y, torch::Tensor& scale);

// The reference: per-example gradients over all parameters, one autograd
// call per example, as rows of an n x D matrix (parameter order of the model).
torch::Tensor per_example_gradients_loop(Net& net, const torch::Tensor& x, const torch::Tensor& y);

// The same rows for loss_i / s_i, writing the scales s_i into `scale` (n x 1).
torch::Tensor scaled_loop(Net& net, const torch::Tensor& x, const torch::Tensor& y, torch::Tensor scale);

}  // namespace stiffness
