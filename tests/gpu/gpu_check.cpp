// GPU against CPU, run by tests/gpu/run.sh on a GPU machine (not by ctest:
// CI has no GPU; CI only builds it). For the MLP, the CNN, ResNet20 and the
// transformer, every --grad-method, float64 and float32: per-example
// gradients (the loop) and K computed on cuda:0 equal the CPU path's within
// 1e-10 (float64) and 1e-5 (float32) relative to the largest entry; the
// class/distance sums of a CUDA tile (TileStatistics) equal the host
// accumulator's. The CUDA side runs with TF32 off, as the job does.
#include <gtest/gtest.h>

#include <torch/cuda.h>

#include "one_rank.hpp"
#include "stiffness/config/config.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/tile_stats.hpp"

using namespace stiffness;

namespace {

struct Case {
  std::string model;
  torch::Dtype dtype;
};

const torch::Device kGpu(torch::kCUDA, 0);

Config config_of(const Case& cs) {
  Config c;
  c.model = parse_choice<Model>(cs.model, "model");
  c.widths = {64, 32};
  c.channels = {8, 16, 16};
  c.vocab_size = 11;
  c.embed_dim = 16;
  c.heads = 2;
  c.layers = 1;
  c.dtype = cs.dtype == torch::kFloat64 ? Precision::float64 : Precision::float32;
  return c;
}

// Inputs (C, H, W) per model, and a batch of n examples.
std::array<int64_t, 3> shape_of(const std::string& model) {
  if (model == "resnet20") return {3, 16, 16};
  if (model == "transformer") return {1, 1, 6};
  return {1, 28, 28};
}

Net make(const Case& cs, torch::Device d) {
  torch::manual_seed(21);  // the same weights on both devices
  auto s = shape_of(cs.model);
  Net net = build_model(config_of(cs), s[0], s[1], s[2], cs.model == "transformer" ? 3 : 10);
  net->to(d);
  return net;
}

double rel(const torch::Tensor& got, const torch::Tensor& ref) {
  return ((got.cpu().to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max() /
          ref.to(torch::kFloat64).abs().max()).item<double>();
}

class GpuVsCpu : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(torch::cuda::is_available()) << "gpu_check needs a CUDA LibTorch and a GPU";
    configure_precision(kGpu);
  }
};

TEST_P(GpuVsCpu, GradientsAndGramMatchCpu) {
  const Case cs = GetParam();
  const double tol = cs.dtype == torch::kFloat64 ? 1e-10 : 1e-5;
  const int64_t n = 12;
  auto s = shape_of(cs.model);
  torch::manual_seed(5);
  auto x = cs.model == "transformer" ? torch::randint(11, {n, 1, 1, 6}, torch::kInt64).to(cs.dtype)
                                     : torch::randn({n, s[0], s[1], s[2]}, cs.dtype);
  auto y = torch::randint(cs.model == "transformer" ? 3 : 10, {n}, torch::kInt64);
  Net cpu = make(cs, torch::kCPU), gpu = make(cs, kGpu);
  auto xg = x.to(kGpu), yg = y.to(kGpu);

  auto G = per_example_gradients_loop(cpu, x, y);
  auto Gg = per_example_gradients_loop(gpu, xg, yg);
  EXPECT_TRUE(Gg.is_cuda());
  EXPECT_LT(rel(Gg, G), tol) << cs.model << ": loop gradients";
  auto K_ref = torch::mm(G.to(torch::kFloat64), G.to(torch::kFloat64).t());

  for (std::string m : {"loop", "factor", "materialize", "auto"}) {
    auto plan = plan_gradients(cpu, x[0], n, m);
    auto plan_g = plan_gradients(gpu, xg[0], n, m);
    ASSERT_EQ(plan.summary(), plan_g.summary());
    auto K = gram_tile(plan, compute_block(cpu, plan, x, y), compute_block(cpu, plan, x, y), true);
    auto bg = compute_block(gpu, plan_g, xg, yg);
    auto Kg = gram_tile(plan_g, bg, bg, true);
    EXPECT_TRUE(Kg.is_cuda());
    EXPECT_LT(rel(Kg, K), tol) << cs.model << "/" << m << " GPU vs CPU";
    EXPECT_LT(rel(Kg, K_ref), 10 * tol) << cs.model << "/" << m << " GPU vs the CPU loop";
    // An off-diagonal tile (rows 0..4 against 5..11), the ring's other kind.
    auto a = compute_block(gpu, plan_g, xg.slice(0, 0, 5), yg.slice(0, 0, 5));
    auto b = compute_block(gpu, plan_g, xg.slice(0, 5), yg.slice(0, 5));
    EXPECT_LT(rel(gram_tile(plan_g, a, b), K.slice(0, 0, 5).slice(1, 5)), tol) << cs.model << "/" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GpuVsCpu,
                         ::testing::Values(Case{"mlp", torch::kFloat64}, Case{"mlp", torch::kFloat32},
                                           Case{"cnn", torch::kFloat64}, Case{"cnn", torch::kFloat32},
                                           Case{"resnet20", torch::kFloat64}, Case{"resnet20", torch::kFloat32},
                                           Case{"transformer", torch::kFloat64},
                                           Case{"transformer", torch::kFloat32}),
                         [](const auto& info) {
                           return info.param.model + (info.param.dtype == torch::kFloat64 ? "_f64" : "_f32");
                         });

TEST(GpuTileStatistics, MatchHostAccumulator) {
  ASSERT_TRUE(torch::cuda::is_available()) << "gpu_check needs a CUDA LibTorch and a GPU";
  const int64_t N = 300, C = 10;
  const int bins = 20;
  torch::manual_seed(9);
  std::vector<int64_t> labels;
  std::vector<Split> split;
  for (int64_t i = 0; i < N; ++i) {
    labels.push_back(i % C);
    split.push_back(i < 200 ? Split::train : Split::val);
  }
  auto G = torch::randn({N, 40}, torch::kFloat64);
  auto K = torch::mm(G, G.t()).contiguous();
  auto X = torch::randn({N, 8}, torch::kFloat64);
  X = X / X.norm(2, 1, true);
  auto D = (1.0 - torch::mm(X, X.t())).contiguous();
  auto kd = K.diagonal().contiguous();
  std::vector<double> diag(kd.data_ptr<double>(), kd.data_ptr<double>() + N);
  ClassStiffnessAccumulator host(labels, split, C, bins), via(labels, split, C, bins);
  host.add_tile(0, 0, N, N, K.data_ptr<double>(), diag, false, D.data_ptr<double>());
  TileStatistics dev(labels, split, C, bins, kGpu);
  dev.add(0, 0, K.to(kGpu), kd.to(kGpu), false, D.to(kGpu));
  via.add_sums(dev.sums());
  test_support::OneRank one;
  auto a = host.reduce(one), b = via.reduce(one);
  for (int s = 0; s < kNumPairSets; ++s) {
    ASSERT_EQ(a[s].pairs, b[s].pairs);
    for (size_t i = 0; i < a[s].cosine.size(); ++i) EXPECT_NEAR(a[s].cosine[i], b[s].cosine[i], 1e-12);
  }
  auto da = host.reduce_distance(one), db = via.reduce_distance(one);
  for (int s = 0; s < kNumPairSets; ++s) EXPECT_EQ(da[s].within_pairs, db[s].within_pairs);
}

}  // namespace
