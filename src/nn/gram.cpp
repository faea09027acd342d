// The Gram tile K[a, b] = sum over layers of per-example gradient inner
// products, from two gradient blocks (factors and one rows part, or the
// loop's full gradients). Chunked so temporaries stay bounded; a diagonal
// tile computes half and mirrors.
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "stiffness/runtime/blas.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/nn/blas.hpp"
#include "stiffness/nn/pergrad.hpp"

namespace stiffness {

namespace {

// Long inner products in float32 err by up to about (length x 6e-8) relative
// to the sum of |products|: BLAS adds each k-panel into C in float32, one
// after another (ResNet20's rows span 269k parameters). So float32 GEMMs
// run over blocks of kInner numbers, summed in float64 (accuracy and cost
// measured in docs/results.md).
constexpr int64_t kInner = 4096;

// a (m x k) times b (n x k) transposed, to be added into a float64 tile:
// in the model dtype when k is short (the += converts on the fly, no copy),
// else in float64.
torch::Tensor inner_gram(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t k = a.size(1);
  if (a.scalar_type() == torch::kFloat64 || k <= kInner) return torch::mm(a, b.t());
  auto out = torch::mm(a.narrow(1, 0, kInner), b.narrow(1, 0, kInner).t()).to(torch::kFloat64);
  for (int64_t k0 = kInner; k0 < k; k0 += kInner) {
    const int64_t kb = std::min(kInner, k - k0);
    out += torch::mm(a.narrow(1, k0, kb), b.narrow(1, k0, kb).t());
  }
  return out;
}

// r r^T, the same way (SYRK per block: half the work).
torch::Tensor inner_syrk(const torch::Tensor& r) {
  const int64_t k = r.size(1);
  if (r.scalar_type() == torch::kFloat64 || k <= kInner) return syrk_gram(r);
  auto out = syrk_gram(r.narrow(1, 0, kInner)).to(torch::kFloat64);
  for (int64_t k0 = kInner; k0 < k; k0 += kInner) out += syrk_gram(r.narrow(1, k0, std::min(kInner, k - k0)));
  return out;
}

// Chunked sum over position pairs: sum_{t,s} (a_it . b_js)(d_it . e_js),
// bounded to about `budget` elements of temporaries. The T x T products
// are not summed in float32 alone: a sum of T^2 terms that cancel (a small
// weight gradient summed over positions) loses relative accuracy.
torch::Tensor ghost_gram(const torch::Tensor& A, const torch::Tensor& D, const torch::Tensor& B,
                         const torch::Tensor& E) {
  const int64_t na = A.size(0), nb = B.size(0), T = A.size(1);
  const int64_t budget = int64_t{1} << 24;
  const int64_t cb = std::max<int64_t>(1, std::min<int64_t>(nb, budget / (T * T)));
  const int64_t ca = std::max<int64_t>(1, std::min<int64_t>(na, budget / (T * T * cb)));
  auto out = torch::zeros({na, nb}, A.options().dtype(torch::kFloat64));
  for (int64_t i = 0; i < na; i += ca) {
    const int64_t ie = std::min(na, i + ca);
    auto a = A.slice(0, i, ie).reshape({-1, A.size(2)});
    auto d = D.slice(0, i, ie).reshape({-1, D.size(2)});
    for (int64_t j = 0; j < nb; j += cb) {
      const int64_t je = std::min(nb, j + cb);
      auto b = B.slice(0, j, je).reshape({-1, B.size(2)});
      auto e = E.slice(0, j, je).reshape({-1, E.size(2)});
      auto prod = torch::mm(a, b.t()) * torch::mm(d, e.t());  // (ca T) x (cb T)
      // Over s in the model dtype (T terms), then over t in float64: a
      // float64 copy T times smaller than the product.
      out.slice(0, i, ie).slice(1, j, je) += prod.view({ie - i, T, je - j, T}).sum(3).sum(1, false, torch::kFloat64);
    }
  }
  return out;
}

// o += rows i..ie of Ra times rows c0.. of Rb, transposed. On a symmetric
// tile (c0 == i) the block on the diagonal is a SYRK, the rest a GEMM.
void add_rows_gram(const torch::Tensor& Ra, const torch::Tensor& Rb, int64_t i, int64_t ie, int64_t c0,
                   bool symmetric, torch::Tensor o) {
  auto rows = Ra.slice(0, i, ie);
  if (!symmetric) {
    o += inner_gram(rows, Rb.slice(0, c0));
    return;
  }
  const int64_t m = ie - i;
  o.narrow(1, 0, m) += inner_syrk(rows);
  if (ie < Rb.size(0)) o.narrow(1, m, Rb.size(0) - ie) += inner_gram(rows, Rb.slice(0, ie));
}

// o (float64, any row stride) += g o h, g and h float32 and contiguous, of
// o's shape. The product of two float32 numbers is exact in float64, and
// the sum over layers is float64's: no less exact than add_chunk's float32
// product summed in float64, in one pass over data that is still in cache.
void add_hadamard(const torch::Tensor& g, const torch::Tensor& h, torch::Tensor& o) {
  const int64_t m = g.size(0), n = g.size(1), ldo = o.stride(0);
  const float* gp = g.data_ptr<float>();
  const float* hp = h.data_ptr<float>();
  double* op = o.data_ptr<double>();
  at::parallel_for(0, m, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* gr = gp + r * n;
      const float* hr = hp + r * n;
      double* orow = op + r * ldo;
      for (int64_t c = 0; c < n; ++c) orow[c] += static_cast<double>(gr[c]) * static_cast<double>(hr[c]);
    }
  });
}

// Dense layers (T = 1) on a CPU in float32, with inner products of at most
// kInner numbers: fused per block. Each layer's two Grams of a block of
// kRows x kCols pairs go into two preallocated buffers, and their product
// into the float64 block of o while all three are in the core's cache.
// Full-width Grams per layer, their product and its conversion to float64
// would make several passes over N^2 numbers in memory per layer, which
// bounds the rate by memory, not by the BLAS (docs/benchmarks.md, "Dense
// Gram phase fused per block"). A symmetric tile starts each block of rows
// at its diagonal: little wasted work.
bool fused_dense(const torch::Tensor& A, const torch::Tensor& D) {
  return A.is_cpu() && A.scalar_type() == torch::kFloat32 && A.size(1) == 1 && A.size(2) <= kInner &&
         D.size(2) <= kInner;
}

// Blocks of 256 x 2048 pairs: 2 MB per buffer, small enough for a core's
// cache, and GEMMs long enough to run near the BLAS's rate; smaller blocks
// ran slower, larger ones no faster (docs/benchmarks.md).
constexpr int64_t kRows = 256, kCols = 2048;

// o: rows i..ie, columns c0.. of the tile; layers: the (A, D, B, E) of each
// fused dense layer, the chunk's rows of A and D, all rows of B and E.
void add_dense_fused(const std::vector<std::array<torch::Tensor, 4>>& layers, int64_t i, int64_t ie, int64_t c0,
                     bool symmetric, torch::Tensor o) {
  const int64_t nb = o.size(1) + c0;
  std::vector<std::array<int64_t, 2>> blocks;  // (first row, first column)
  for (int64_t r = i; r < ie; r += kRows)
    for (int64_t c = symmetric ? r : c0; c < nb; c += kCols) blocks.push_back({r, c});
  // One thread per share of the blocks, each with a single-threaded BLAS:
  // one block's GEMMs and its product then stay on one core, in its cache,
  // which ran faster than the BLAS's threads on a block followed by
  // LibTorch's on its product. Where the BLAS's threads cannot be set, one
  // worker, and the BLAS threads as it likes.
  const int64_t workers = ScopedBlasThreads::available() ? at::get_num_threads() : 1;
  std::optional<ScopedBlasThreads> single;
  if (workers > 1) single.emplace(1);
  auto opt = layers.front()[0].options();
  at::parallel_for(0, workers, 1, [&](int64_t w0, int64_t w1) {
    auto g = torch::empty({kRows * kCols}, opt), h = torch::empty({kRows * kCols}, opt);
    for (int64_t w = w0; w < w1; ++w)
      for (size_t k = static_cast<size_t>(w); k < blocks.size(); k += static_cast<size_t>(workers)) {
        const int64_t r = blocks[k][0], c = blocks[k][1];
        const int64_t re = std::min(ie, r + kRows), ce = std::min(nb, c + kCols);
        auto ob = o.slice(0, r - i, re - i).slice(1, c - c0, ce - c0);
        auto gb = g.narrow(0, 0, (re - r) * (ce - c)).view({re - r, ce - c});
        auto hb = h.narrow(0, 0, (re - r) * (ce - c)).view({re - r, ce - c});
        for (const auto& l : layers) {
          torch::mm_out(gb, l[0].slice(0, r - i, re - i), l[2].slice(0, c, ce).t());
          torch::mm_out(hb, l[1].slice(0, r - i, re - i), l[3].slice(0, c, ce).t());
          add_hadamard(gb, hb, ob);
        }
      }
  });
}

// out[rows of a chunk, cols of b from c0] += this chunk's contributions:
// the factor layers' (rows_part false) or the one rows part's, which is the
// loop's full gradients or all materialised layers (rows_part true).
void add_chunk(const GradPlan& plan, const GradBlock& a, const GradBlock& b, int64_t i, int64_t ie,
               int64_t c0, bool symmetric, bool rows_part, torch::Tensor o) {
  if (rows_part) {
    const size_t last = a.parts.size() - 2;  // the scales come after the rows
    add_rows_gram(a.parts[last], b.parts[last], i, ie, c0, symmetric, o);
    return;
  }
  size_t at = 0;
  std::vector<std::array<torch::Tensor, 4>> fused;
  for (const auto& l : plan.layers) {
    if (l.method == GradMethod::materialize) continue;
    auto A = a.parts[at].slice(0, i, ie), D = a.parts[at + 1].slice(0, i, ie);
    auto B = b.parts[at].slice(0, c0), E = b.parts[at + 1].slice(0, c0);
    if (l.T == 1 && fused_dense(a.parts[at], a.parts[at + 1])) {
      // All rows of B and E: the fused blocks index columns of the tile.
      fused.push_back({A.select(1, 0), D.select(1, 0), b.parts[at].select(1, 0), b.parts[at + 1].select(1, 0)});
      at += 2;
      continue;
    }
    at += 2;
    if (l.T == 1) {
      // Dense layer: (A A^T) o (Delta Delta^T), N^2 (d + p) instead of N^2 d p.
      // The product of two float32 numbers is exact to one rounding: it may
      // stay float32, and the float32 GEMMs run faster than float64 ones
      // (docs/benchmarks.md).
      auto g = inner_gram(A.select(1, 0), B.select(1, 0));
      auto h = inner_gram(D.select(1, 0), E.select(1, 0));
      if (g.scalar_type() == h.scalar_type())
        o += g.mul_(h);
      else
        o += g.to(torch::kFloat64).mul_(h);
    } else {
      o += ghost_gram(A, D, B, E);
    }
  }
  if (!fused.empty()) add_dense_fused(fused, i, ie, c0, symmetric, o);
}

}  // namespace

torch::Tensor gram_tile(const GradPlan& plan, const GradBlock& a, const GradBlock& b, bool symmetric) {
  // On the blocks' device (a GPU rank keeps its tiles there until written).
  const auto device = a.parts.empty() ? torch::Device(torch::kCPU) : a.parts[0].device();
  auto out = torch::zeros({a.n, b.n}, torch::TensorOptions(torch::kFloat64).device(device));
  if (a.n == 0 || b.n == 0) return out;
  STIFF_CHECK(!symmetric || a.n == b.n, "gram_tile: a symmetric tile must be square");
  // Rows in chunks so that the temporaries (two Grams and their product in
  // the model dtype) stay near 3 x 2^24 elements whatever N is: the rank's
  // peak memory is then its tile plus its blocks, not several tiles.
  const int64_t budget_rows = std::max<int64_t>(1, (int64_t{1} << 24) / b.n);
  // A diagonal tile (a == b) is symmetric: each chunk is computed from its
  // first row rightwards, and mirrored at the end. The factor layers' GEMMs
  // then waste their chunk's lower triangle: at most max(256, n/4) rows per
  // chunk keeps that to 5/8 of the work or less. The rows part needs no
  // such limit: SYRK on the chunk's diagonal block, GEMM right of it, is
  // exactly half, and larger chunks run the BLAS faster.
  const int64_t factor_rows = symmetric ? std::min(budget_rows, std::max<int64_t>(256, (a.n + 3) / 4)) : budget_rows;
  const bool has_rows = plan.loop || plan.rows_width() > 0;
  const bool has_factors = std::any_of(plan.layers.begin(), plan.layers.end(),
                                       [](const LayerPlan& l) { return l.method == GradMethod::factor; });
  for (const bool rows_part : {false, true}) {
    if (rows_part ? !has_rows : !has_factors) continue;
    const int64_t rows = rows_part ? budget_rows : factor_rows;
    for (int64_t i = 0; i < a.n; i += rows) {
      const int64_t ie = std::min(a.n, i + rows);
      const int64_t c0 = symmetric ? i : 0;
      add_chunk(plan, a, b, i, ie, c0, symmetric, rows_part, out.slice(0, i, ie).slice(1, c0));
    }
  }
  // The parts hold gradients of loss_i / s_i: K_ij = s_i s_j K'_ij.
  auto scale = [](const GradBlock& g) { return g.parts.back().reshape({-1}).to(torch::kFloat64); };
  const auto sa = scale(a), sb = scale(b);
  if (!symmetric) return out.mul_(sa.unsqueeze(1)).mul_(sb.unsqueeze(0));  // no N x N temporary
  // A symmetric tile: scale its computed part (right of the diagonal) and
  // mirror it into the rows below, in place (no second N x N matrix: 3.2 GB
  // at N = 20000), block by block so that each block is scaled and copied
  // while in cache, not in passes over the whole tile in memory
  // (docs/benchmarks.md).
  // A diagonal block may come from a GEMM whose two triangles differ in the
  // last bit: keep its upper triangle so that K is exactly symmetric. Every
  // entry on or right of the diagonal has been computed, whatever the chunks
  // above were. Strips of rows write disjoint blocks: one thread each.
  constexpr int64_t kBlock = 256;
  const int64_t strips = (a.n + kBlock - 1) / kBlock, workers = at::get_num_threads();
  at::parallel_for(0, workers, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w)
      for (int64_t s = w; s < strips; s += workers) {
        const int64_t i = s * kBlock, ie = std::min(a.n, i + kBlock);
        const auto si = sa.slice(0, i, ie).unsqueeze(1);
        for (int64_t j = i; j < a.n; j += kBlock) {
          const int64_t je = std::min(a.n, j + kBlock);
          auto up = out.slice(0, i, ie).slice(1, j, je);
          up.mul_(si).mul_(sb.slice(0, j, je).unsqueeze(0));
          if (j == i)
            up.copy_(up.triu() + up.triu(1).t());
          else
            out.slice(0, j, je).slice(1, i, ie).copy_(up.t());
        }
      }
  });
  return out;
}

double gram_flops(const GradPlan& plan, int64_t na, int64_t nb, int64_t num_params) {
  const double n2 = 2.0 * static_cast<double>(na) * static_cast<double>(nb);
  if (plan.loop) return n2 * static_cast<double>(num_params);
  double f = 0;
  for (const auto& l : plan.layers) {
    if (l.method == GradMethod::materialize)
      f += n2 * static_cast<double>(l.row_width);
    else
      f += n2 * static_cast<double>(l.T * l.T) * static_cast<double>(l.d + l.p);
  }
  return f;
}

}  // namespace stiffness
