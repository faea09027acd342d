// Every fast path against the plain per-example autograd loop, in float64 to
// 1e-10: dense layers, convolutions with stride and padding, biases.
#include <gtest/gtest.h>

#include "stiffness/config/config.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"

using namespace stiffness;

namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

Net small_cnn() {
  // Stride 2 with padding 1, then stride 1 without padding: both unfold paths.
  Net net;
  net->add_conv("conv1", 2, 3, 3, 2, 1);
  net->add(OpKind::relu);
  net->add_conv("conv2", 3, 4, 3, 1, 0);
  net->add(OpKind::relu);
  net->add(OpKind::maxpool2);
  net->add(OpKind::flatten);
  net->add_linear("fc", 4 * 1 * 1, 5);
  net->to(torch::kFloat64);
  return net;
}

Net small_mlp() {
  Config c;
  c.model = Model::mlp;
  c.widths = {7, 6};
  c.dtype = Precision::float64;
  return build_model(c, 1, 3, 4, 5);
}

struct Data {
  torch::Tensor x, y;
};

Data make_data(int64_t n, std::vector<int64_t> shape, int64_t classes) {
  shape.insert(shape.begin(), n);
  return {torch::randn(shape, torch::kFloat64), torch::randint(classes, {n}, torch::kInt64)};
}

void expect_all_methods_match_loop(Net net, const Data& d) {
  auto G = per_example_gradients_loop(net, d.x, d.y);
  auto K_ref = torch::mm(G, G.t());
  for (std::string m : {"factor", "materialize", "auto"}) {
    auto plan = plan_gradients(net, d.x[0], d.x.size(0), m);
    auto blk = compute_block(net, plan, d.x, d.y);
    auto K = gram_tile(plan, blk, blk);
    EXPECT_LT(rel_diff(K, K_ref), 1e-10) << "method " << m << ": " << plan.summary();
    auto Ks = gram_tile(plan, blk, blk, /*symmetric=*/true);
    EXPECT_LT(rel_diff(Ks, K_ref), 1e-10) << "symmetric, method " << m;
    EXPECT_TRUE(torch::equal(Ks, Ks.t()));
    // The same block computed in passes of 2 examples (rows written in place).
    auto passes = compute_block(net, plan, d.x, d.y, /*pass=*/2);
    EXPECT_LT(rel_diff(gram_tile(plan, passes, passes), K_ref), 1e-10) << "passes of 2, method " << m;
    // Off-diagonal tiles, as the ring computes them, with unequal sizes.
    auto a = compute_block(net, plan, d.x.slice(0, 0, 3), d.y.slice(0, 0, 3));
    auto b = compute_block(net, plan, d.x.slice(0, 3), d.y.slice(0, 3));
    auto Kab = gram_tile(plan, a, b);
    EXPECT_LT(rel_diff(Kab, K_ref.slice(0, 0, 3).slice(1, 3)), 1e-10) << "method " << m;
  }
}

}  // namespace

TEST(PerExample, LoopRowsAreSingleExampleGradients) {
  torch::manual_seed(1);
  auto net = small_mlp();
  auto d = make_data(4, {1, 3, 4}, 5);
  auto G = per_example_gradients_loop(net, d.x, d.y);
  for (int64_t i = 0; i < 4; ++i) {
    net->zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net->forward(d.x.slice(0, i, i + 1)),
                                                     d.y.slice(0, i, i + 1));
    loss.backward();
    std::vector<torch::Tensor> flat;
    for (auto& p : net->parameters()) flat.push_back(p.grad().reshape({-1}));
    EXPECT_LT(rel_diff(G[i], torch::cat(flat)), 1e-14);
  }
}

TEST(PerExample, MaterializedRowsEqualLoopRows) {
  // The materialised rows of a dense layer are [dW | db] per output unit;
  // reorder them into the parameter order and compare element by element.
  torch::manual_seed(2);
  auto net = small_mlp();
  auto d = make_data(6, {1, 3, 4}, 5);
  auto G = per_example_gradients_loop(net, d.x, d.y);
  auto plan = plan_gradients(net, d.x[0], 6, "materialize");
  auto blk = compute_block(net, plan, d.x, d.y);
  int64_t off = 0, col = 0;
  ASSERT_EQ(blk.parts.size(), 2u);  // all materialised layers in one part, then the scales
  const auto rows = blk.parts[0] * blk.parts[1];  // the rows are gradients of loss_i / s_i
  for (size_t l = 0; l < plan.layers.size(); ++l) {
    const int64_t p = plan.layers[l].p, din = plan.layers[l].d - 1;
    auto M = rows.slice(1, col, col + p * (din + 1)).reshape({6, p, din + 1});
    col += p * (din + 1);
    auto w = M.slice(2, 0, din).reshape({6, -1});
    auto b = M.select(2, din);
    EXPECT_LT(rel_diff(w, G.slice(1, off, off + p * din)), 1e-12) << plan.layers[l].name;
    off += p * din;
    EXPECT_LT(rel_diff(b, G.slice(1, off, off + p)), 1e-12) << plan.layers[l].name;
    off += p;
  }
  EXPECT_EQ(off, G.size(1));
}

TEST(PerExample, DenseLayersAllMethodsMatchLoop) {
  torch::manual_seed(3);
  expect_all_methods_match_loop(small_mlp(), make_data(9, {1, 3, 4}, 5));
}

TEST(PerExample, ConvolutionsWithStrideAndPaddingMatchLoop) {
  torch::manual_seed(4);
  expect_all_methods_match_loop(small_cnn(), make_data(7, {2, 8, 8}, 5));
}

TEST(PerExample, PaperCnnMatchesLoop) {
  torch::manual_seed(5);
  Config c;
  c.model = Model::cnn;
  c.channels = {4, 6, 6};
  c.dtype = Precision::float64;
  expect_all_methods_match_loop(build_model(c, 1, 12, 12, 10), make_data(6, {1, 12, 12}, 10));
}

TEST(PerExample, PackUnpackRoundTrip) {
  torch::manual_seed(6);
  auto net = small_cnn();
  auto d = make_data(5, {2, 8, 8}, 5);
  auto plan = plan_gradients(net, d.x[0], 5, "factor");
  auto blk = compute_block(net, plan, d.x, d.y);
  auto flat = pack(blk);
  EXPECT_EQ(flat.numel(), packed_numel(part_shapes(blk), 5));
  auto back = unpack(flat, 5, part_shapes(blk));
  ASSERT_EQ(back.parts.size(), blk.parts.size());
  for (size_t i = 0; i < blk.parts.size(); ++i) EXPECT_TRUE(torch::equal(back.parts[i], blk.parts[i]));
}

TEST(PerExample, AutoPicksFactorForDenseAndMaterializeForEarlyConv) {
  Config c;
  c.model = Model::cnn;
  auto net = build_model(c, 1, 28, 28, 10);
  auto plan = plan_gradients(net, torch::zeros({1, 28, 28}), 1000, "auto");
  ASSERT_EQ(plan.layers.size(), 4u);
  EXPECT_EQ(plan.layers[0].method, GradMethod::materialize);
  EXPECT_EQ(plan.layers[3].method, GradMethod::factor);
}

TEST(PerExample, SymmetricTileInSeveralChunksEqualsFullTile) {
  // 600 examples: the factor layers go in chunks of 256 rows, the rows part
  // in one SYRK chunk; both are mirrored into the lower triangle.
  torch::manual_seed(8);
  auto net = small_mlp();
  auto d = make_data(600, {1, 3, 4}, 5);
  for (std::string m : {"factor", "materialize", "loop"}) {
    auto plan = plan_gradients(net, d.x[0], 600, m);
    auto blk = compute_block(net, plan, d.x, d.y);
    auto full = gram_tile(plan, blk, blk), sym = gram_tile(plan, blk, blk, /*symmetric=*/true);
    EXPECT_LT(rel_diff(sym, full), 1e-12) << m;
    EXPECT_TRUE(torch::equal(sym, sym.t())) << m;
  }
}
