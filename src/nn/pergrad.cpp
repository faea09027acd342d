#include "stiffness/nn/pergrad.hpp"

#include <algorithm>
#include <sstream>

#include "stiffness/runtime/error.hpp"
#include "stiffness/nn/conv_grad.hpp"

namespace stiffness {

namespace F = torch::nn::functional;

const char* method_name(GradMethod m) {
  switch (m) {
    case GradMethod::loop: return "loop";
    case GradMethod::materialize: return "materialize";
    case GradMethod::factor: return "factor";
  }
  return "?";
}

int64_t GradPlan::rows_width() const {
  int64_t w = 0;
  for (const auto& l : layers)
    if (l.method == GradMethod::materialize) w += l.row_width;
  return w;
}

std::string GradPlan::summary() const {
  if (loop) return "all layers: loop (one backward pass per example, the reference)";
  std::ostringstream o;
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    o << (i ? "; " : "") << l.name << ": " << method_name(l.method) << " (" << l.why << ")";
  }
  return o.str();
}

namespace {

// Measurement semantics: BatchNorm uses its running statistics (eval mode),
// so that no layer mixes examples. Restores the previous mode on exit.
class EvalGuard {
 public:
  explicit EvalGuard(Net& net) : net_(net), was_training_(net->is_training()) { net_->eval(); }
  ~EvalGuard() { net_->train(was_training_); }

 private:
  Net& net_;
  bool was_training_;
};

// im2col for the factor A of a convolution: n x T x (C k k [+ 1]), channel-
// major like weight.view(p, -1), with the bias column of ones. Built from
// strided views and ONE copy; LibTorch's unfold plus a transpose and a cat
// make several copies and were an order of magnitude slower
// (docs/benchmarks.md, "Measurements behind the code").
torch::Tensor conv_patches(const torch::Tensor& x, int64_t k, int64_t stride, int64_t pad, bool bias) {
  const int64_t n = x.size(0), C = x.size(1);
  auto xp = pad > 0 ? F::pad(x, F::PadFuncOptions({pad, pad, pad, pad})) : x;
  auto patches = xp.unfold(2, k, stride).unfold(3, k, stride);  // n, C, Ho, Wo, k, k (a view)
  const int64_t ho = patches.size(2), wo = patches.size(3), ckk = C * k * k;
  auto a = torch::empty({n, ho, wo, ckk + (bias ? 1 : 0)}, x.options());
  a.narrow(3, 0, ckk).view({n, ho, wo, C, k, k}).copy_(patches.permute({0, 2, 3, 1, 4, 5}));
  if (bias) a.select(3, ckk).fill_(1);
  return a.view({n, ho * wo, -1});
}

// A: the layer input per example and position, with a column of ones when
// the layer has a bias (the bias gradient is then the last column of
// Delta^T A). Shape n x T x d. Linear layers over sequences have T = length.
torch::Tensor input_factor(const TapeEntry& e) {
  const Op& op = *e.op;
  if (e.kind == LayerKind::conv) return conv_patches(e.input.detach(), op.kernel, op.stride, op.pad, e.bias);
  auto a = e.input.detach().reshape({e.input.size(0), -1, e.input.size(-1)});
  if (e.bias) a = torch::cat({a, torch::ones({a.size(0), a.size(1), 1}, a.options())}, 2);
  return a.contiguous();
}

// Delta: d(loss of example i)/d(layer output), n x T x p.
torch::Tensor output_factor(const TapeEntry& e, const torch::Tensor& delta) {
  if (e.kind == LayerKind::conv) return delta.flatten(2).transpose(1, 2).contiguous();
  return delta.reshape({delta.size(0), -1, delta.size(-1)}).contiguous();
}

// Layers whose per-example gradients are always materialised: norm layers
// (gamma: sum over positions of x-hat * delta, beta: sum of delta; 2C
// numbers) and embeddings (delta scattered to the rows of the used tokens,
// plus delta itself for the learned positions).
torch::Tensor direct_rows(const TapeEntry& e, const torch::Tensor& delta) {
  const int64_t n = delta.size(0);
  if (e.kind == LayerKind::norm) {
    torch::Tensor xd = e.input * delta, d = delta;
    if (e.op->norm == NormKind::layer) {
      xd = xd.reshape({n, -1, xd.size(-1)}).sum(1);
      d = d.reshape({n, -1, d.size(-1)}).sum(1);
    } else {
      xd = xd.flatten(2).sum(2);
      d = d.flatten(2).sum(2);
    }
    return torch::cat({xd, d}, 1).contiguous();
  }
  const auto& ids = e.input;  // n x T
  const int64_t V = e.op->embed->options.num_embeddings(), T = ids.size(1), dim = delta.size(-1);
  auto tok = torch::zeros({n * V, dim}, delta.options());
  auto rows = (ids + torch::arange(n, ids.options()).unsqueeze(1) * V).reshape({-1});
  tok.index_add_(0, rows, delta.reshape({n * T, dim}));
  return torch::cat({tok.view({n, V * dim}), delta.reshape({n, T * dim})}, 1).contiguous();
}

// Writes one layer's per-example gradients as rows into `dst` (n x p d, a
// slice of the block's row buffer, so no concatenation copy): for a
// convolution delta_i times example i's im2col columns transposed, the bias
// gradients (sums of delta) last, by conv_weight_rows (conv_grad.cpp); for
// a linear layer Delta^T A.
void write_rows(const TapeEntry& e, const torch::Tensor& delta, torch::Tensor dst) {
  const int64_t n = delta.size(0);
  if (e.kind == LayerKind::norm || e.kind == LayerKind::embedding) {
    dst.copy_(direct_rows(e, delta));
    return;
  }
  if (e.kind == LayerKind::conv) {
    const Op& op = *e.op;
    conv_weight_rows(e.input.detach(), delta, op.kernel, op.stride, op.pad, e.bias, dst);
    return;
  }
  // g_i = sum_t delta_it a_it^T, p x d with the bias as the last column.
  auto D = output_factor(e, delta), A = input_factor(e);
  auto g = dst.view({n, D.size(2), A.size(2)});
  torch::bmm_out(g, D.transpose(1, 2), A);
}

}  // namespace

GradPlan plan_gradients(Net& net, const torch::Tensor& example_input, int64_t n_total,
                        const std::string& requested) {
  return plan_gradients(net, example_input, n_total, parse_choice<GradRequest>(requested, "grad-method"));
}

GradPlan plan_gradients(Net& net, const torch::Tensor& example_input, int64_t n_total, GradRequest requested) {
  GradPlan plan;
  if (requested == GradRequest::loop || net->needs_loop()) {
    plan.loop = true;
    return plan;
  }
  // One forward pass on one example tells every layer's shapes.
  EvalGuard eval(net);
  torch::NoGradGuard no_grad;
  Taped tape;
  net->forward(example_input.unsqueeze(0), &tape);
  const double N = static_cast<double>(n_total);
  for (const auto& e : tape.entries) {
    LayerPlan lp;
    lp.name = e.name;
    lp.kind = e.kind;
    if (e.kind == LayerKind::norm || e.kind == LayerKind::embedding) {
      auto rows = direct_rows(e, torch::zeros_like(e.output));
      lp.method = GradMethod::materialize;
      lp.row_width = rows.size(1);
      lp.T = 1, lp.d = lp.row_width, lp.p = 1;
      lp.materialize_flops = N * N * lp.row_width;
      lp.factor_flops = lp.materialize_flops;
      lp.why = e.kind == LayerKind::norm ? "norm layer: " + std::to_string(lp.row_width) +
                                               " per-example numbers (gamma, beta), always materialised"
                                         : "embedding: token rows and positions, always materialised";
      plan.layers.push_back(lp);
      continue;
    }
    auto a = input_factor(e);
    lp.T = a.size(1);
    lp.d = a.size(2);
    lp.p = e.output.size(e.kind == LayerKind::conv ? 1 : e.output.dim() - 1);
    lp.row_width = lp.d * lp.p;
    const double T = lp.T, d = lp.d, p = lp.p;
    // Multiply-adds for the whole N x N Gram of this layer (docs/design.md):
    // factor: the T x T blocks of two Grams; materialize: forming the rows
    // (N T d p) plus their Gram (N^2 d p).
    lp.factor_flops = (N * T) * (N * T) * (d + p);
    lp.materialize_flops = N * T * d * p + N * N * d * p;
    if (requested == GradRequest::factor) {
      lp.method = GradMethod::factor;
      lp.why = "forced by --grad-method";
    } else if (requested == GradRequest::materialize) {
      lp.method = GradMethod::materialize;
      lp.why = "forced by --grad-method";
    } else {
      const bool f = lp.factor_flops <= lp.materialize_flops;
      lp.method = f ? GradMethod::factor : GradMethod::materialize;
      std::ostringstream why;
      why.precision(3);
      why << "T=" << lp.T << " d=" << lp.d << " p=" << lp.p << ": factor " << lp.factor_flops
          << " vs materialize " << lp.materialize_flops << " multiply-adds";
      lp.why = why.str();
    }
    plan.layers.push_back(lp);
  }
  return plan;
}

namespace {

// In float64 from the model's logits (n x classes: negligible cost): the
// softmax subtracts the row maximum, so every p_k is relatively accurate,
// and the true class gets -(sum of the others) instead of p_y - 1, which
// cancels to nothing once p_y rounds to 1 (1 - p_y < 6e-8 in float32).
// Returns the gradient and the sums of the others (n x 1), in float64.
std::pair<torch::Tensor, torch::Tensor> stable_gradient(const torch::Tensor& logits, const torch::Tensor& y) {
  auto p = torch::softmax(logits.detach().to(torch::kFloat64), 1);
  auto idx = y.reshape({-1, 1});
  auto others = p.scatter(1, idx, 0.0);
  auto rest = others.sum(1, true);
  return {others.scatter(1, idx, -rest), rest};
}

}  // namespace

torch::Tensor logit_gradient(const torch::Tensor& logits, const torch::Tensor& y) {
  return stable_gradient(logits, y).first.to(logits.scalar_type());
}

torch::Tensor scaled_logit_gradient(const torch::Tensor& logits, const torch::Tensor& y, torch::Tensor& scale) {
  auto [g, rest] = stable_gradient(logits, y);
  // The scale as the model dtype holds it; dividing by that very number
  // keeps s_i * (g_i / s_i) = g_i to rounding. 0 (underflow): no gradient.
  scale = rest.to(logits.scalar_type());
  auto s = scale.to(torch::kFloat64);
  return torch::where(s > 0, g / s, torch::zeros_like(g)).to(logits.scalar_type());
}

namespace {

// Examples per forward/backward pass: about 2^23 numbers of activations,
// layer inputs and columns per pass (32 MB in float32). Smaller passes bound
// a rank's peak whatever N/P is and, probably, keep the temporaries in
// reused heap memory (glibc maps blocks over 32 MB anew each time; not
// measured separately from cache effects). They were also faster than one
// pass over the block (docs/benchmarks.md, "CNN gradient pass").
int64_t examples_per_pass(const GradPlan& plan, int64_t n) {
  int64_t per_example = 1;
  for (const auto& l : plan.layers) per_example += l.T * (l.d + l.p);
  return std::clamp<int64_t>((int64_t{1} << 23) / per_example, 16, std::max<int64_t>(n, 1));
}

// Examples [i, i + m) of x: one batched forward and one backward of the SUM
// of their losses; since no layer mixes examples, d(sum)/d(output_i) =
// d(loss_i)/d(output_i). The backward starts from the logits with the
// stable loss gradient (logit_gradient), not from the loss. Writes rows i..
// of every part of `blk`.
void fill_pass(Net& net, const GradPlan& plan, const torch::Tensor& x, const torch::Tensor& y,
               GradBlock& blk, int64_t i) {
  const int64_t m = x.size(0);
  Taped tape;
  auto logits = net->forward(x, &tape);
  std::vector<torch::Tensor> outputs;
  for (const auto& e : tape.entries) outputs.push_back(e.output);
  torch::Tensor scale;
  auto start = scaled_logit_gradient(logits, y, scale);
  blk.parts.back().slice(0, i, i + m).copy_(scale);
  auto deltas = torch::autograd::grad({logits}, outputs, {start}, /*retain_graph=*/false,
                                      /*create_graph=*/false, /*allow_unused=*/true);
  STIFF_CHECK(tape.entries.size() == plan.layers.size(), "compute_block: the plan does not match the model");
  torch::NoGradGuard no_grad;
  size_t at = 0;
  int64_t off = 0;
  for (size_t l = 0; l < tape.entries.size(); ++l) {
    const auto& e = tape.entries[l];
    const auto& lp = plan.layers[l];
    auto delta = deltas[l].defined() ? deltas[l].detach() : torch::zeros_like(e.output);
    if (lp.method == GradMethod::factor) {
      blk.parts[at++].slice(0, i, i + m).copy_(input_factor(e));
      blk.parts[at++].slice(0, i, i + m).copy_(output_factor(e, delta));
    } else {
      write_rows(e, delta, blk.parts[blk.parts.size() - 2].slice(0, i, i + m).narrow(1, off, lp.row_width));
      off += lp.row_width;
    }
  }
}

}  // namespace

GradBlock compute_block(Net& net, const GradPlan& plan, const torch::Tensor& x, const torch::Tensor& y,
                        int64_t pass) {
  GradBlock blk;
  blk.n = x.size(0);
  auto opts = net->parameters()[0].options().requires_grad(false);
  if (plan.loop) {
    blk.parts.push_back(torch::Tensor());
    blk.parts.push_back(torch::empty({blk.n, 1}, opts));
    blk.parts[0] = scaled_loop(net, x, y, blk.parts[1]);
    return blk;
  }
  // The parts, allocated once (also for a rank with no examples): {A, Delta}
  // per factor layer, then all materialised layers side by side in ONE row
  // buffer: one GEMM for their Gram, one part on the ring.
  for (const auto& l : plan.layers) {
    if (l.method != GradMethod::factor) continue;
    blk.parts.push_back(torch::empty({blk.n, l.T, l.d}, opts));
    blk.parts.push_back(torch::empty({blk.n, l.T, l.p}, opts));
  }
  if (plan.rows_width() > 0) blk.parts.push_back(torch::empty({blk.n, plan.rows_width()}, opts));
  blk.parts.push_back(torch::empty({blk.n, 1}, opts));  // the scales
  EvalGuard eval(net);
  if (pass <= 0) pass = examples_per_pass(plan, blk.n);
  for (int64_t i = 0; i < blk.n; i += pass) {
    const int64_t ie = std::min(blk.n, i + pass);
    fill_pass(net, plan, x.slice(0, i, ie), y.slice(0, i, ie), blk, i);
  }
  return blk;
}

GradBlock slice_block(const GradBlock& b, int64_t begin, int64_t end) {
  if (begin == 0 && end == b.n) return b;
  GradBlock s;
  s.n = end - begin;
  for (const auto& p : b.parts) s.parts.push_back(p.slice(0, begin, end));
  return s;
}

torch::Tensor pack(const GradBlock& b) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : b.parts) flat.push_back(p.reshape({-1}));
  return torch::cat(flat).contiguous();
}

std::vector<std::vector<int64_t>> part_shapes(const GradBlock& b) {
  std::vector<std::vector<int64_t>> s;
  for (const auto& p : b.parts) s.emplace_back(p.sizes().begin() + 1, p.sizes().end());
  return s;
}

int64_t packed_numel(const std::vector<std::vector<int64_t>>& shapes, int64_t n) {
  int64_t total = 0;
  for (const auto& s : shapes) {
    int64_t e = n;
    for (auto v : s) e *= v;
    total += e;
  }
  return total;
}

GradBlock unpack(const torch::Tensor& flat, int64_t n, const std::vector<std::vector<int64_t>>& shapes) {
  STIFF_CHECK(flat.numel() == packed_numel(shapes, n), "unpack: buffer size does not match block shapes");
  GradBlock b;
  b.n = n;
  int64_t off = 0;
  for (const auto& s : shapes) {
    std::vector<int64_t> full{n};
    full.insert(full.end(), s.begin(), s.end());
    int64_t e = n;
    for (auto v : s) e *= v;
    b.parts.push_back(flat.slice(0, off, off + e).view(full));
    off += e;
  }
  return b;
}

torch::Tensor per_example_gradients_loop(Net& net, const torch::Tensor& x, const torch::Tensor& y) {
  auto scale = torch::empty({x.size(0), 1}, net->parameters()[0].options().requires_grad(false));
  auto G = scaled_loop(net, x, y, scale);
  return G.mul_(scale);
}

torch::Tensor scaled_loop(Net& net, const torch::Tensor& x, const torch::Tensor& y, torch::Tensor scale) {
  EvalGuard eval(net);
  auto params = net->parameters();
  int64_t D = 0;
  for (const auto& p : params) D += p.numel();
  auto G = torch::empty({x.size(0), D}, params[0].options().requires_grad(false));
  for (int64_t i = 0; i < x.size(0); ++i) {
    // From the logits with the stable, scaled loss gradient, like the fast
    // paths: also for TorchScript modules, whose loss is never formed inside.
    auto logits = net->forward(x.slice(0, i, i + 1));
    torch::Tensor s;
    auto start = scaled_logit_gradient(logits, y.slice(0, i, i + 1), s);
    scale.slice(0, i, i + 1).copy_(s);
    auto grads = torch::autograd::grad({logits}, params, {start}, false, false, /*allow_unused=*/true);
    int64_t off = 0;
    for (size_t k = 0; k < grads.size(); ++k) {
      const int64_t len = params[k].numel();
      if (grads[k].defined())
        G[i].slice(0, off, off + len).copy_(grads[k].reshape({-1}));
      else
        G[i].slice(0, off, off + len).zero_();
      off += len;
    }
  }
  return G;
}

}  // namespace stiffness
