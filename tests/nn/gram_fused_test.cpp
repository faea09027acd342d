// The float32 dense layers' fused Gram (blocks of 256 x 2048 pairs, products
// and sums in float64) against the same plan in float64, on enough examples
// for several row and column blocks, partial ones included: a symmetric
// tile, an off-diagonal one of unequal sizes, and exact symmetry.
#include <gtest/gtest.h>

#include "stiffness/config/config.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"

using namespace stiffness;

namespace {

Net mlp(const std::string& dtype) {
  Config c;
  c.model = Model::mlp;
  c.widths = {9, 6};
  c.dtype = parse_choice<Precision>(dtype, "dtype");
  return build_model(c, 1, 3, 4, 5);
}

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

}  // namespace

TEST(GramFused, Float32BlocksMatchFloat64Plan) {
  torch::manual_seed(11);
  const int64_t n = 2300, split = 300;  // > 2048 columns, > 256 rows, partial blocks
  auto net32 = mlp("float32"), net64 = mlp("float64");
  {
    torch::NoGradGuard ng;
    auto p = net64->parameters(), q = net32->parameters();
    ASSERT_EQ(p.size(), q.size());
    for (size_t i = 0; i < p.size(); ++i) p[i].copy_(q[i]);
  }
  auto x = torch::randn({n, 1, 3, 4}), y = torch::randint(5, {n}, torch::kInt64);
  auto x64 = x.to(torch::kFloat64);
  auto plan32 = plan_gradients(net32, x[0], n, "factor"), plan64 = plan_gradients(net64, x64[0], n, "factor");
  auto ref = gram_tile(plan64, compute_block(net64, plan64, x64, y), compute_block(net64, plan64, x64, y), true);

  auto blk = compute_block(net32, plan32, x, y);
  auto sym = gram_tile(plan32, blk, blk, /*symmetric=*/true);
  EXPECT_EQ(sym.scalar_type(), torch::kFloat64);
  EXPECT_LT(rel_diff(sym, ref), 1e-5);
  EXPECT_TRUE(torch::equal(sym, sym.t()));
  // Every entry, not only the largest: the lower triangle is a mirror, the
  // diagonal a sum of squares.
  EXPECT_LT(((sym - ref).abs() / ref.abs().clamp_min(1e-3 * ref.abs().max())).max().item<double>(), 1e-4);
  EXPECT_TRUE((sym.diagonal() > 0).all().item<bool>());
  auto full = gram_tile(plan32, blk, blk);
  EXPECT_LT(rel_diff(full, sym), 1e-6);

  auto a = compute_block(net32, plan32, x.slice(0, 0, split), y.slice(0, 0, split));
  auto b = compute_block(net32, plan32, x.slice(0, split), y.slice(0, split));
  auto Kab = gram_tile(plan32, a, b);
  ASSERT_EQ(Kab.size(0), split);
  ASSERT_EQ(Kab.size(1), n - split);
  EXPECT_LT(rel_diff(Kab, ref.slice(0, 0, split).slice(1, split)), 1e-5);
}
