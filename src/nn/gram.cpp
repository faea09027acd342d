// The Gram tile K[a, b] = sum over layers of per-example gradient inner
// products, from two gradient blocks (factors and one rows part, or the
// loop's full gradients). Chunked so temporaries stay bounded; a diagonal
// tile computes half and mirrors.
#include <algorithm>

#include "stiffness/error.hpp"
#include "stiffness/nn/blas.hpp"
#include "stiffness/nn/pergrad.hpp"

namespace stiffness {

namespace {

// Chunked sum over position pairs: sum_{t,s} (a_it . b_js)(d_it . e_js),
// bounded to about `budget` elements of temporaries.
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
      out.slice(0, i, ie).slice(1, j, je) +=
          prod.view({ie - i, T, je - j, T}).sum({1, 3}).to(torch::kFloat64);
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
    o += torch::mm(rows, Rb.slice(0, c0).t()).to(torch::kFloat64);
    return;
  }
  const int64_t m = ie - i;
  o.narrow(1, 0, m) += syrk_gram(rows).to(torch::kFloat64);
  if (ie < Rb.size(0)) o.narrow(1, m, Rb.size(0) - ie) += torch::mm(rows, Rb.slice(0, ie).t()).to(torch::kFloat64);
}

// out[rows of a chunk, cols of b from c0] += this chunk's contributions:
// the factor layers' (rows_part false) or the one rows part's, which is the
// loop's full gradients or all materialised layers (rows_part true).
void add_chunk(const GradPlan& plan, const GradBlock& a, const GradBlock& b, int64_t i, int64_t ie,
               int64_t c0, bool symmetric, bool rows_part, torch::Tensor o) {
  if (rows_part) {
    const size_t last = a.parts.size() - 1;
    add_rows_gram(a.parts[last], b.parts[last], i, ie, c0, symmetric, o);
    return;
  }
  size_t at = 0;
  for (const auto& l : plan.layers) {
    if (l.method == GradMethod::materialize) continue;
    auto A = a.parts[at].slice(0, i, ie), D = a.parts[at + 1].slice(0, i, ie);
    auto B = b.parts[at].slice(0, c0), E = b.parts[at + 1].slice(0, c0);
    at += 2;
    if (l.T == 1) {
      // Dense layer: (A A^T) o (Delta Delta^T), N^2 (d + p) instead of N^2 d p.
      auto g = torch::mm(A.select(1, 0), B.select(1, 0).t());
      g.mul_(torch::mm(D.select(1, 0), E.select(1, 0).t()));
      o += g.to(torch::kFloat64);
    } else {
      o += ghost_gram(A, D, B, E);
    }
  }
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
  if (!symmetric) return out;
  // Mirror the part right of each diagonal block into the rows below, in
  // place: no second N x N matrix (N = 20000: 3.2 GB each). A diagonal block
  // may come from a GEMM whose two triangles differ in the last bit: keep its
  // upper triangle so that K is exactly symmetric.
  for (int64_t i = 0; i < a.n; i += factor_rows) {
    const int64_t ie = std::min(a.n, i + factor_rows);
    if (ie < a.n) out.slice(0, ie, a.n).slice(1, i, ie).copy_(out.slice(0, i, ie).slice(1, ie, a.n).t());
    auto diag = out.slice(0, i, ie).slice(1, i, ie);
    diag.copy_(diag.triu() + diag.triu(1).t());
  }
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
