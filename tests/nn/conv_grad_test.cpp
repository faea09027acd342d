// conv_weight_rows (src/nn/conv_grad.cpp) in each of its forms (automatic,
// im2col + one GEMM per example, one GEMM per kernel offset, LibTorch's
// unfold + bmm)
// against one autograd backward per example through torch::conv2d, in
// float64 to 1e-10: kernels 1, 3 and 5, strides 1-3, paddings 0-2,
// non-square inputs whose windows do not tile them exactly, with and without
// bias, rows written into a slice of a wider buffer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "stiffness/config/config.hpp"
#include "stiffness/nn/conv_grad.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"

using namespace stiffness;

namespace {

struct Geometry {
  int64_t C, p, H, W, k, stride, pad;
  bool bias;
};

// Row i: d(sum(conv(x_i) * delta_i))/d(weight, bias), flattened like the
// weight (p x C k k), then the biases.
torch::Tensor loop_rows(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& weight,
                        const torch::Tensor& bias, const Geometry& g) {
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto w = weight.clone().requires_grad_(true);
    auto b = bias.clone().requires_grad_(true);
    auto y = torch::conv2d(x.slice(0, i, i + 1), w, g.bias ? b : torch::Tensor(), g.stride, g.pad);
    auto grads = torch::autograd::grad({y}, {w, b}, {delta.slice(0, i, i + 1)}, false, false, true);
    auto row = grads[0].reshape({-1});
    if (g.bias) row = torch::cat({row, grads[1]});
    rows.push_back(row);
  }
  return torch::stack(rows);
}

void expect_matches_loop(const Geometry& g, torch::Dtype dtype, double tol) {
  const int64_t n = 5;
  auto opt = torch::TensorOptions(dtype);
  auto x = torch::randn({n, g.C, g.H, g.W}, opt);
  auto weight = torch::randn({g.p, g.C, g.k, g.k}, opt), bias = torch::randn({g.p}, opt);
  const int64_t Ho = (g.H + 2 * g.pad - g.k) / g.stride + 1, Wo = (g.W + 2 * g.pad - g.k) / g.stride + 1;
  auto delta = torch::randn({n, g.p, Ho, Wo}, opt);
  auto ref = loop_rows(x, delta, weight, bias, g);
  const std::string what = "C=" + std::to_string(g.C) + " p=" + std::to_string(g.p) + " " + std::to_string(g.H) +
                           "x" + std::to_string(g.W) + " k=" + std::to_string(g.k) + " stride=" +
                           std::to_string(g.stride) + " pad=" + std::to_string(g.pad) + (g.bias ? " bias" : "");
  const int64_t width = ref.size(1);
  for (auto form : {ConvRowsForm::automatic, ConvRowsForm::im2col, ConvRowsForm::offsets, ConvRowsForm::torch}) {
    // A slice of a wider buffer, as the block's row part is, with sentinels
    // on both sides that must survive.
    auto buf = torch::full({n, width + 7}, 12345.0, opt);
    conv_weight_rows(x, delta, g.k, g.stride, g.pad, g.bias, buf.narrow(1, 3, width), form);
    const std::string how = what + ", form " + std::to_string(static_cast<int>(form));
    auto got = buf.narrow(1, 3, width);
    EXPECT_LT(((got - ref).abs().max() / ref.abs().max()).item<double>(), tol) << how;
    EXPECT_TRUE(torch::all(buf.narrow(1, 0, 3) == 12345.0).item<bool>()) << how;
    EXPECT_TRUE(torch::all(buf.narrow(1, 3 + width, 4) == 12345.0).item<bool>()) << how;
  }
}

}  // namespace

TEST(ConvWeightRows, MatchesPerExampleAutogradFloat64) {
  torch::manual_seed(3);
  const Geometry cases[] = {
      {1, 16, 28, 28, 3, 1, 1, true},  // the CNN's first layer
      {3, 4, 8, 8, 3, 1, 1, false},    // ResNet20's first layer, no bias
      {4, 5, 9, 7, 3, 2, 1, true},     // stride 2, odd sizes
      {2, 3, 10, 11, 3, 3, 2, true},   // stride 3, padding 2
      {3, 2, 6, 5, 5, 1, 2, false},    // 5 x 5 kernel
      {5, 3, 7, 6, 1, 2, 0, true},     // 1 x 1 kernel, stride 2
      {2, 4, 5, 5, 3, 1, 0, true},     // no padding
      // From 8 channels on, stride 1: automatic picks the offsets.
      {8, 5, 9, 7, 3, 1, 1, true},     // odd sizes
      {16, 3, 6, 5, 5, 1, 2, false},   // 5 x 5 kernel, padding 2
      {9, 4, 5, 6, 3, 1, 0, true},     // no padding
      {8, 3, 4, 4, 1, 1, 0, true},     // 1 x 1 kernel
      {12, 2, 7, 6, 3, 1, 2, true},    // padding wider than the kernel's reach
  };
  for (const auto& g : cases) expect_matches_loop(g, torch::kFloat64, 1e-10);
}

TEST(ConvWeightRows, Float32AgreesToRounding) {
  torch::manual_seed(4);
  expect_matches_loop({16, 32, 14, 14, 3, 1, 1, true}, torch::kFloat32, 1e-5);  // offsets
  expect_matches_loop({3, 16, 32, 32, 3, 1, 1, false}, torch::kFloat32, 1e-5);  // im2col
}

TEST(ConvWeightRows, NonContiguousDeltaAndInput) {
  // Channels-last tensors and a transposed view: any layout, same rows.
  torch::manual_seed(5);
  for (int64_t C : {3, 8}) {  // both forms
  const Geometry g{C, 4, 6, 6, 3, 1, 1, true};
  auto x = torch::randn({4, C, 6, 6}, torch::kFloat64);
  auto delta = torch::randn({4, 4, 6, 6}, torch::kFloat64);
  auto weight = torch::randn({4, C, 3, 3}, torch::kFloat64), bias = torch::randn({4}, torch::kFloat64);
  auto ref = loop_rows(x, delta, weight, bias, g);
  // Channels-last input with a transposed delta, then both channels-last
  // (as the model's channels-last layers give them: no NCHW copy then).
  for (auto d : {delta.transpose(2, 3).contiguous().transpose(2, 3),
                 delta.contiguous(torch::MemoryFormat::ChannelsLast)}) {
    auto dst = torch::empty_like(ref);
    conv_weight_rows(x.contiguous(torch::MemoryFormat::ChannelsLast), d, 3, 1, 1, true, dst);
    EXPECT_LT(((dst - ref).abs().max() / ref.abs().max()).item<double>(), 1e-10) << C << " channels";
  }
  }
}

TEST(ConvChannelsLast, ResNet20Float32TakesItAndMatchesFloat64Loop) {
  // model.cpp runs float32 CPU convolutions of 3+ channels over 16 x 16+
  // positions channels-last; the Gram must still be the float64 loop's.
  torch::manual_seed(6);
  Config c;
  c.model = Model::resnet20;
  c.norm = Norm::none;
  c.dtype = Precision::float32;
  auto net = build_model(c, 3, 16, 16, 10);
  auto x = torch::randn({4, 3, 16, 16});
  auto y = torch::randint(10, {4}, torch::kInt64);
  {
    torch::NoGradGuard no_grad;
    Taped tape;
    net->forward(x, &tape);
    ASSERT_EQ(tape.entries.front().kind, LayerKind::conv);
    EXPECT_TRUE(tape.entries.front().input.is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
  auto plan = plan_gradients(net, x[0], 4, "auto");
  auto blk = compute_block(net, plan, x, y);
  auto K = gram_tile(plan, blk, blk, /*symmetric=*/true);
  net->to(torch::kFloat64);
  auto G = per_example_gradients_loop(net, x.to(torch::kFloat64), y);
  auto K_ref = torch::mm(G, G.t());
  EXPECT_LT(((K - K_ref).abs().max() / K_ref.abs().max()).item<double>(), 1e-4);
}
