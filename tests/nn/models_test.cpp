// The issue-4 models against the per-example loop (float64, 1e-10):
// ResNet20 v1 without norm, with GroupNorm, with BatchNorm measured with
// running statistics; the transformer encoder (embedding, attention,
// LayerNorm); and a TorchScript module through the generic loop.
#include <gtest/gtest.h>

#include <cstdlib>

#include "stiffness/config/config.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"

using namespace stiffness;

namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

void expect_methods_match_loop(Net net, const torch::Tensor& x, const torch::Tensor& y) {
  auto G = per_example_gradients_loop(net, x, y);
  auto K_ref = torch::mm(G, G.t());
  ASSERT_GT(K_ref.abs().max().item<double>(), 0);
  for (std::string m : {"factor", "materialize", "auto"}) {
    auto plan = plan_gradients(net, x[0], x.size(0), m);
    EXPECT_FALSE(plan.loop);
    auto blk = compute_block(net, plan, x, y);
    EXPECT_LT(rel_diff(gram_tile(plan, blk, blk), K_ref), 1e-10) << m << ": " << plan.summary();
    auto a = compute_block(net, plan, x.slice(0, 0, 2), y.slice(0, 0, 2));
    auto b = compute_block(net, plan, x.slice(0, 2), y.slice(0, 2));
    EXPECT_LT(rel_diff(gram_tile(plan, a, b), K_ref.slice(0, 0, 2).slice(1, 2)), 1e-10) << m;
  }
}

Config resnet(const std::string& norm) {
  Config c;
  c.model = Model::resnet20;
  c.norm = parse_choice<Norm>(norm, "norm");
  c.norm_groups = 4;
  c.dtype = Precision::float64;
  return c;
}

}  // namespace

TEST(Models, ResNet20WithoutNormMatchesLoop) {
  torch::manual_seed(1);
  auto net = build_model(resnet("none"), 3, 8, 8, 10);
  // conv1 448 + stage 1 6 x 2320 + stage 2 4640 + 5 x 9248 + stage 3 18496 +
  // 5 x 36928 + fc 650: the 0.27M parameters of ResNet20 (with conv biases).
  EXPECT_EQ(net->num_params(), 269034);
  expect_methods_match_loop(net, torch::randn({5, 3, 8, 8}, torch::kFloat64),
                            torch::randint(10, {5}, torch::kInt64));
}

TEST(Models, ResNet20GroupNormMatchesLoop) {
  torch::manual_seed(2);
  auto net = build_model(resnet("group"), 3, 8, 8, 10);
  // Non-trivial affine parameters, so gamma/beta gradients are exercised.
  {
    torch::NoGradGuard ng;
    for (auto& p : net->parameters()) p.add_(0.1 * torch::randn_like(p));
  }
  expect_methods_match_loop(net, torch::randn({5, 3, 8, 8}, torch::kFloat64),
                            torch::randint(10, {5}, torch::kInt64));
}

TEST(Models, BatchNormIsMeasuredWithRunningStatistics) {
  torch::manual_seed(3);
  auto net = build_model(resnet("batch"), 3, 8, 8, 10);
  auto x = torch::randn({6, 3, 8, 8}, torch::kFloat64);
  auto y = torch::randint(10, {6}, torch::kInt64);
  net->train();
  net->forward(x * 2 + 1);  // moves the running statistics away from (0, 1)
  ASSERT_TRUE(net->is_training());
  // Per example in eval mode, a block's row equals the one-example block:
  // no example influences another.
  auto plan = plan_gradients(net, x[0], 6, "auto");
  auto all = gram_tile(plan, compute_block(net, plan, x, y), compute_block(net, plan, x, y));
  auto one = compute_block(net, plan, x.slice(0, 0, 1), y.slice(0, 0, 1));
  EXPECT_LT(rel_diff(gram_tile(plan, one, one), all.slice(0, 0, 1).slice(1, 0, 1)), 1e-12);
  EXPECT_TRUE(net->is_training());  // the measurement restores the mode
  expect_methods_match_loop(net, x, y);
}

TEST(Models, TransformerMatchesLoop) {
  torch::manual_seed(4);
  Config c;
  c.model = Model::transformer;
  c.vocab_size = 11;
  c.embed_dim = 8;
  c.heads = 2;
  c.layers = 2;
  c.dtype = Precision::float64;
  auto net = build_model(c, 1, 1, 6, 3);
  auto x = torch::randint(11, {5, 1, 1, 6}, torch::kInt64).to(torch::kFloat64);
  x[0][0][0][1] = x[0][0][0][0];  // a repeated token: scatter must add
  expect_methods_match_loop(net, x, torch::randint(3, {5}, torch::kInt64));
}

TEST(Models, TorchScriptModuleUsesLoopAndEqualsNativeModel) {
  const char* tmp = std::getenv("STIFFNESS_TEST_TMP");
  const std::string dir = tmp ? tmp : "/tmp";
  std::system(("mkdir -p " + dir).c_str());
  const std::string path = dir + "/stiffness_test_module.pt";
  torch::manual_seed(5);
  auto w = torch::randn({4, 12}, torch::kFloat64), b = torch::randn({4}, torch::kFloat64);
  {
    torch::jit::Module m("Tiny");
    m.register_parameter("w", w.clone(), false);
    m.register_parameter("b", b.clone(), false);
    m.define(R"JIT(
def forward(self, x):
    return x.flatten(1).matmul(self.w.t()) + self.b
)JIT");
    m.save(path);
  }
  Config c;
  c.model = Model::torchscript;
  c.script = path;
  c.dtype = Precision::float64;
  auto script = build_model(c, 1, 3, 4, 4);
  EXPECT_EQ(script->num_params(), 4 * 12 + 4);
  auto x = torch::randn({5, 1, 3, 4}, torch::kFloat64);
  auto y = torch::randint(4, {5}, torch::kInt64);
  auto plan = plan_gradients(script, x[0], 5, "auto");
  EXPECT_TRUE(plan.loop) << "a TorchScript module is measured with the generic loop";
  auto blk = compute_block(script, plan, x, y);
  auto K = gram_tile(plan, blk, blk);
  // The same function as a native model, measured with factors.
  Net native;
  native->add(OpKind::flatten);
  native->add_linear("fc", 12, 4);
  native->to(torch::kFloat64);
  {
    torch::NoGradGuard ng;
    native->parameters()[0].copy_(w);
    native->parameters()[1].copy_(b);
  }
  auto nplan = plan_gradients(native, x[0], 5, "factor");
  auto nblk = compute_block(native, nplan, x, y);
  EXPECT_LT(rel_diff(K, gram_tile(nplan, nblk, nblk)), 1e-12);
  // Training updates the script's own tensors (they are registered, not copied).
  auto before = script->parameters()[0].clone();
  torch::optim::SGD opt(script->parameters(), torch::optim::SGDOptions(0.1));
  torch::nn::functional::cross_entropy(script->forward(x), y).backward();
  opt.step();
  EXPECT_FALSE(torch::equal(before, script->parameters()[0]));
}

TEST(Models, MissingScriptFileIsAClearError) {
  Config c;
  c.model = Model::torchscript;
  c.script = "/nonexistent/module.pt";
  try {
    build_model(c, 1, 3, 4, 4);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/module.pt"), std::string::npos) << e.what();
  }
}
