// The per-example weight gradients of every convolution of a model, in each
// formulation, timed on one pass of examples:
//   build/bench/conv_forms --model cnn|resnet20 [--pass 128] [--threads 2] [--repeat 5] [--cpu-time 1]
// One JSON line per convolution: its shape, GFLOP, and the best seconds of
//   torch    LibTorch's F::unfold of the pass and one bmm (the reference form)
//   grouped  one grouped convolution over all examples (oneDNN): the input
//            as C images of n channels, each example's delta as its group's
//            kernels (measured here only; not used by the program)
//   im2col   per example: im2col in a cached buffer, one GEMM (conv_grad.cpp)
//   offsets  per example, stride 1: k^2 GEMMs on shifted channels-last views
//   auto     what the program uses (conv_grad.cpp's choice)
// and last one line with the forward and the backward (the deltas) of the
// pass. --cpu-time 1 times the process's CPU seconds instead of wall time,
// which a loaded machine disturbs less when one thread runs.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "stiffness/config/config.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/nn/conv_grad.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/runtime/blas.hpp"

using namespace stiffness;
namespace F = torch::nn::functional;

namespace {

bool cpu_time = false;

double now() {
  if (cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename Fn>
double best(int repeat, Fn&& f) {
  f();  // warm-up
  double b = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const double t = now();
    f();
    b = std::min(b, now() - t);
  }
  return b;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (name == argv[i]) return argv[i + 1];
  return dflt;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_openblas_kernels(argv);
  MpiSession mpi(&argc, &argv);
  Config c;
  const std::string model = arg(argc, argv, "--model", "cnn");
  const int64_t n = std::stoll(arg(argc, argv, "--pass", "128"));
  const int threads = std::stoi(arg(argc, argv, "--threads", "2"));
  const int repeat = std::stoi(arg(argc, argv, "--repeat", "5"));
  cpu_time = arg(argc, argv, "--cpu-time", "0") == "1";
  if (model != "cnn" && model != "resnet20") {
    std::fprintf(stderr, "conv_forms: --model: expected cnn or resnet20, got '%s'\n", model.c_str());
    return 2;
  }
  c.model = parse_choice<Model>(model, "model");
  torch::set_num_threads(threads);
  set_blas_threads(threads);
  const bool cifar = c.model == Model::resnet20;
  const int64_t C = cifar ? 3 : 1, H = cifar ? 32 : 28;
  torch::manual_seed(0);
  Net net = build_model(c, C, H, H, 10);
  net->eval();
  auto x = torch::randn({n, C, H, H});
  Taped tape;
  auto logits = net->forward(x, &tape);
  std::vector<torch::Tensor> outs;
  for (const auto& e : tape.entries) outs.push_back(e.output);
  auto deltas = torch::autograd::grad({logits}, outs, {torch::randn_like(logits)}, true, false, true);
  torch::NoGradGuard no_grad;
  for (size_t l = 0; l < tape.entries.size(); ++l) {
    const auto& e = tape.entries[l];
    if (e.kind != LayerKind::conv) continue;
    const Op& op = *e.op;
    const auto in = e.input.detach();
    const auto d = deltas[l].detach();
    const int64_t p = d.size(1), T = d.size(2) * d.size(3), ckk = in.size(1) * op.kernel * op.kernel;
    auto dst = torch::empty({n, p * ckk + (e.bias ? p : 0)});
    auto form = [&](ConvRowsForm f) {
      return best(repeat, [&] { conv_weight_rows(in, d, op.kernel, op.stride, op.pad, e.bias, dst, f); });
    };
    const double grouped = best(repeat, [&] {
      auto xp = F::pad(in, F::PadFuncOptions({op.pad, op.pad, op.pad, op.pad})).transpose(0, 1);
      auto w = d.reshape({n * p, 1, d.size(2), d.size(3)});
      auto g = torch::conv2d(xp, w, torch::Tensor(), torch::IntArrayRef{1}, torch::IntArrayRef{0},
                             torch::IntArrayRef{op.stride}, n);
      dst.narrow(1, 0, p * ckk)
          .view({n, p, in.size(1), op.kernel, op.kernel})
          .copy_(g.slice(2, 0, op.kernel).slice(3, 0, op.kernel).view({in.size(1), n, p, op.kernel, op.kernel})
                     .permute({1, 2, 0, 3, 4}));
    });
    const double gflop = 2.0 * n * p * T * ckk / 1e9;
    std::printf("{\"model\":\"%s\",\"layer\":\"%s\",\"pass\":%lld,\"threads\":%d,\"timer\":\"%s\",\"C\":%lld,"
                "\"p\":%lld,\"T\":%lld,\"stride\":%lld,\"gflop\":%.4f,\"torch\":%.5f,\"grouped\":%.5f,"
                "\"im2col\":%.5f,\"offsets\":%.5f,\"auto\":%.5f}\n",
                to_string(c.model).c_str(), e.name.c_str(), static_cast<long long>(n), threads, cpu_time ? "cpu" : "wall",
                static_cast<long long>(in.size(1)), static_cast<long long>(p), static_cast<long long>(T),
                static_cast<long long>(op.stride), gflop, form(ConvRowsForm::torch), grouped,
                form(ConvRowsForm::im2col), op.stride == 1 ? form(ConvRowsForm::offsets) : -1.0,
                form(ConvRowsForm::automatic));
  }
  torch::AutoGradMode grad_on(true);
  const double fwd = best(repeat, [&] {
    torch::NoGradGuard ng;
    net->forward(x);
  });
  const double fwd_bwd = best(repeat, [&] {
    Taped t;
    auto lg = net->forward(x, &t);
    std::vector<torch::Tensor> o;
    for (const auto& e : t.entries) o.push_back(e.output);
    torch::autograd::grad({lg}, o, {torch::ones_like(lg)}, false, false, true);
  });
  std::printf("{\"model\":\"%s\",\"pass\":%lld,\"threads\":%d,\"timer\":\"%s\",\"forward\":%.5f,"
              "\"forward_and_deltas\":%.5f}\n",
              to_string(c.model).c_str(), static_cast<long long>(n), threads, cpu_time ? "cpu" : "wall", fwd, fwd_bwd);
  return 0;
}
