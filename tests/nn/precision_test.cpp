// Float32 per-example gradients against a float64 per-example autograd loop
// on the same parameters (the float32 ones cast up), at initialisation,
// mid-training and deep in overfitting: every model, every
// --grad-method, pair cosines within 1e-5 and every pair sign equal; also a
// TorchScript module (measured by the loop) with logit margins of about 50.
// Each model memorises a few random examples with Adam until the float64
// training loss is far below float32's resolution of 1 - p_y (6e-8), the
// regime where computing p_y - 1 loses everything (docs/metrics.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "stiffness/config/config.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"

using namespace stiffness;

namespace {

struct Problem {
  Config c;
  int64_t channels = 1, height = 8, width = 8, classes = 4;
  torch::Tensor x, y;
  double lr = 1e-2;
};

// The float32 model's parameters and buffers, cast to float64.
Net float64_copy(const Problem& pr, Net& net32) {
  Config c = pr.c;
  c.dtype = Precision::float64;
  auto net = build_model(c, pr.channels, pr.height, pr.width, pr.classes);
  torch::NoGradGuard ng;
  auto p = net->parameters(), q = net32->parameters();
  EXPECT_EQ(p.size(), q.size());
  for (size_t i = 0; i < p.size(); ++i) p[i].copy_(q[i]);
  auto b = net->buffers(), r = net32->buffers();
  for (size_t i = 0; i < b.size(); ++i) b[i].copy_(r[i]);
  return net;
}

// Pair cosines K_ij / sqrt(K_ii K_jj) (0 where a norm is 0), as the job forms them.
torch::Tensor cosines(const torch::Tensor& K) {
  auto d = K.diagonal().sqrt();
  auto den = torch::outer(d, d);
  return torch::where(den > 0, K / den, torch::zeros_like(K));
}

// Mean training loss of the float32 parameters, evaluated in float64 (a
// float32 loss rounds to 0 below 6e-8).
double loss64(const Problem& pr, Net& net32);

double loss64(const Problem& pr, Net& net32) {
  auto net = float64_copy(pr, net32);
  torch::NoGradGuard ng;
  return torch::nn::functional::cross_entropy(net->forward(pr.x.to(torch::kFloat64)), pr.y).item<double>();
}

// Compares every method in float32 with the float64 loop; prints the errors
// (docs/results.md quotes them) and returns the largest cosine error.
double check_stage(const Problem& pr, Net& net32, const std::string& stage) {
  auto net64 = float64_copy(pr, net32);
  const auto x64 = pr.x.to(torch::kFloat64);
  auto G = per_example_gradients_loop(net64, x64, pr.y);
  auto cref = cosines(torch::mm(G, G.t()));
  const auto off = 1 - torch::eye(pr.x.size(0), torch::kFloat64);
  const double loss = loss64(pr, net32);
  double worst = 0;
  for (std::string m : {"auto", "factor", "materialize", "loop"}) {
    auto plan = plan_gradients(net32, pr.x[0], pr.x.size(0), m);
    auto blk = compute_block(net32, plan, pr.x, pr.y);
    auto c = cosines(gram_tile(plan, blk, blk, /*symmetric=*/true));
    const double err = ((c - cref).abs() * off).max().item<double>();
    const int64_t flips = ((c.sign() != cref.sign()) * off.to(torch::kBool)).sum().item<int64_t>();
    // A pair whose true cosine is within float32's reach of zero has no
    // meaningful float32 sign; there are none in these problems (counted).
    const int64_t near_zero = ((cref.abs() < 1e-6) * off.to(torch::kBool)).sum().item<int64_t>();
    std::printf("PRECISION model=%s stage=%s loss64=%.3g method=%s max_cos_err=%.3g sign_flips=%lld near_zero=%lld\n",
                to_string(pr.c.model).c_str(), stage.c_str(), loss, m.c_str(), err, static_cast<long long>(flips),
                static_cast<long long>(near_zero));
    EXPECT_LT(err, 1e-5) << pr.c.model << " " << stage << " " << m;
    EXPECT_EQ(flips, 0) << pr.c.model << " " << stage << " " << m;
    EXPECT_EQ(near_zero, 0) << pr.c.model << " " << stage;
    worst = std::max(worst, err);
  }
  return worst;
}

// The gradient of the mean loss at the logits without cancellation (as
// docs/metrics.md), so that float32 training keeps fitting after p_y rounds
// to 1 and reaches a deep overfit in few steps; torch's cross-entropy
// backward stalls there (p_y - 1 = 0).
torch::Tensor training_gradient(const torch::Tensor& logits, const torch::Tensor& y) {
  auto p = torch::softmax(logits.detach().to(torch::kFloat64), 1);
  auto others = p.scatter(1, y.reshape({-1, 1}), 0.0);
  auto g = others.scatter(1, y.reshape({-1, 1}), -others.sum(1, true));
  return (g / logits.size(0)).to(logits.scalar_type());
}

// Trains (full batch, Adam, float32) and checks at initialisation, when the
// loss first falls below 0.3, and once the float64 loss is below `deep`.
void train_and_check(Problem pr, double deep, int max_steps) {
  auto net = build_model(pr.c, pr.channels, pr.height, pr.width, pr.classes);
  check_stage(pr, net, "init");
  // Adam's default eps (1e-8) and its long second-moment memory (0.999) would
  // stall the fit once the gradients shrink; these keep the steps near lr.
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(pr.lr).eps(1e-20).betas({0.9, 0.9}));
  bool mid = false;
  double loss = 0;
  int step = 0;
  for (; step < max_steps; ++step) {
    opt.zero_grad();
    auto logits = net->forward(pr.x);
    logits.backward(training_gradient(logits, pr.y));
    opt.step();
    if (step % 10) continue;
    loss = loss64(pr, net);
    if (!mid && loss < 0.3) {
      check_stage(pr, net, "mid");
      mid = true;
    }
    if (loss < deep) break;
  }
  ASSERT_TRUE(mid);
  ASSERT_LT(loss, deep) << pr.c.model << ": did not overfit within " << max_steps << " steps";
  std::printf("PRECISION model=%s overfit after %d steps\n", to_string(pr.c.model).c_str(), step);
  check_stage(pr, net, "deep");
}

Problem random_images(const std::string& model, int64_t n, int64_t channels) {
  Problem pr;
  pr.c.model = parse_choice<Model>(model, "model");
  pr.c.dtype = Precision::float32;
  pr.channels = channels;
  pr.x = torch::randn({n, channels, pr.height, pr.width});
  pr.y = torch::arange(n) % pr.classes;
  return pr;
}

}  // namespace

TEST(Precision, MlpFloat32MatchesFloat64DeepInOverfitting) {
  torch::manual_seed(11);
  auto pr = random_images("mlp", 16, 1);
  pr.c.widths = {32, 16};
  train_and_check(pr, 1e-12, 2000);
}

TEST(Precision, CnnFloat32MatchesFloat64DeepInOverfitting) {
  torch::manual_seed(12);
  auto pr = random_images("cnn", 16, 1);
  pr.c.channels = {4, 8, 8};
  train_and_check(pr, 1e-12, 2000);
}

TEST(Precision, ResNet20Float32MatchesFloat64DeepInOverfitting) {
  torch::manual_seed(13);
  auto pr = random_images("resnet20", 12, 3);
  pr.lr = 3e-3;
  train_and_check(pr, 1e-12, 1000);
}

TEST(Precision, TransformerFloat32MatchesFloat64DeepInOverfitting) {
  torch::manual_seed(14);
  Problem pr;
  pr.c.model = Model::transformer;
  pr.c.vocab_size = 11;
  pr.c.embed_dim = 16;
  pr.c.heads = 2;
  pr.c.layers = 2;
  pr.height = 1, pr.width = 6;
  pr.x = torch::randint(11, {16, 1, 1, 6}).to(torch::kFloat32);
  pr.y = torch::arange(16) % pr.classes;
  pr.lr = 1e-2;
  train_and_check(pr, 1e-12, 2000);
}


TEST(Precision, ResNet20AtCifarSizeMatchesFloat64AtInitialisation) {
  // 32 x 32 inputs: the first stage's layers have T = 1024 positions, so the
  // factor method sums 2^20 position pairs per example pair and the rows
  // span 269k parameters: the long float32 sums of docs/metrics.md.
  torch::manual_seed(15);
  Problem pr;
  pr.c.model = Model::resnet20;
  pr.channels = 3, pr.height = 32, pr.width = 32;
  pr.x = torch::randn({6, 3, 32, 32});
  pr.y = torch::arange(6) % pr.classes;
  auto net = build_model(pr.c, pr.channels, pr.height, pr.width, pr.classes);
  check_stage(pr, net, "init-32x32");
}

TEST(Precision, TorchScriptLoopUsesTheStableLossGradient) {
  // A TorchScript linear classifier with margins of about 30 in the logits
  // (losses near 1e-13): its loss is never formed inside the module, so the
  // loop must start from the logits. Float32 against the float64 loop.
  const char* tmp = std::getenv("STIFFNESS_TEST_TMP");
  const std::string dir = tmp ? tmp : "/tmp";
  std::system(("mkdir -p " + dir).c_str());
  const std::string path = dir + "/stiffness_precision_module.pt";
  torch::manual_seed(16);
  // Four prototypes and a noisy copy of each; the weights are the
  // prototypes, scaled: logit margins of about 50.
  auto proto = torch::randn({4, 1, 3, 4}, torch::kFloat64);
  auto x = torch::cat({proto, proto + 0.1 * torch::randn({4, 1, 3, 4}, torch::kFloat64)});
  auto y = torch::arange(8) % 4;
  auto w = 5.0 * proto.flatten(1);
  {
    torch::jit::Module m("Tiny");
    m.register_parameter("w", w.clone(), false);
    m.define(R"JIT(
def forward(self, x):
    return x.flatten(1).matmul(self.w.t())
)JIT");
    m.save(path);
  }
  auto make = [&](const std::string& dtype) {
    Config c;
    c.model = Model::torchscript;
    c.script = path;
    c.dtype = parse_choice<Precision>(dtype, "dtype");
    return build_model(c, 1, 3, 4, 4);
  };
  auto net32 = make("float32"), net64 = make("float64");
  auto G = per_example_gradients_loop(net64, x, y);
  auto cref = cosines(torch::mm(G, G.t()));
  auto plan = plan_gradients(net32, x[0].to(torch::kFloat32), 8, "auto");
  ASSERT_TRUE(plan.loop);
  auto blk = compute_block(net32, plan, x.to(torch::kFloat32), y);
  auto c = cosines(gram_tile(plan, blk, blk, true));
  torch::NoGradGuard ng;
  const double loss = torch::nn::functional::cross_entropy(net64->forward(x), y).item<double>();
  const double err = (c - cref).abs().max().item<double>();
  std::printf("PRECISION model=torchscript stage=deep loss64=%.3g method=loop max_cos_err=%.3g\n", loss, err);
  EXPECT_LT(loss, 1e-9);  // far below float32's 6e-8 resolution of 1 - p_y
  EXPECT_LT(err, 1e-5);
  EXPECT_TRUE(torch::equal(c.sign(), cref.sign()));
}
