// One benchmark case per process, so that peak RSS belongs to that case:
//   mpiexec -n P stiffness_bench --model mlp|cnn|resnet20 --n N
//       --method auto|factor|materialize|loop [--device cpu|cuda]
// Prints one JSON line: model, N, ranks, device, method, seconds, pairs/s,
// achieved GFLOP/s (the Gram GEMMs), the SGEMM GFLOP/s measured in the same
// process on the same device, the gradient pass's GFLOP and rate, the floor
// (gradient pass + Gram FLOPs at that SGEMM rate) and seconds / floor, the ring's bytes and GB/s, peak RSS (and on a
// GPU the device memory in use), and the largest relative difference from
// the per-example loop on a sub-block of this run's own tiles. bench/run.sh
// runs every CPU case; tests/gpu/run.sh the GPU ones.
#include <torch/cuda.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/config/config.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/ring.hpp"
#include "stiffness/runtime/blas.hpp"
#include "stiffness/runtime/provenance.hpp"
#include "stiffness/analysis/tiling.hpp"

using namespace stiffness;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Waits for the device's queued work, so that a timer sees it finished.
void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// Single-precision GEMM rate of this rank on its device (best of 3; 1024^3
// on a CPU, 8192^3 on a GPU, where 1024 would measure launch latency).
double sgemm_gflops(const torch::Device& d) {
  const int64_t n = d.is_cuda() ? 8192 : 1024;
  auto a = torch::randn({n, n}, torch::TensorOptions().device(d)), b = torch::randn({n, n}, a.options());
  torch::mm(a, b);
  sync(d);
  double best = 1e9;
  for (int i = 0; i < 3; ++i) {
    const double t = now();
    auto c = torch::mm(a, b);
    sync(d);
    best = std::min(best, now() - t);
  }
  return 2.0 * n * n * n / best / 1e9;
}

// Floating-point operations of the gradient pass for n examples, from the
// layer shapes (2 per multiply-add, a bias counted as a column of ones):
// every parametrised layer's forward and input gradient (not for the first,
// whose input needs none), and the per-example weight gradients of the
// layers that materialise them (a factor layer keeps A and Delta instead).
// With the loop, all layers count as materialised. Norm layers and
// embeddings (no GEMM) count nothing. This and the Gram's FLOPs at the SGEMM
// rate of the same process give the floor of a case.
double grad_flops(Net& net, const torch::Tensor& example, const GradPlan& plan, int64_t n) {
  const GradPlan shapes = plan.loop ? plan_gradients(net, example, n, "materialize") : plan;
  double f = 0;
  bool first = true;
  for (const auto& l : shapes.layers) {
    if (l.kind != LayerKind::linear && l.kind != LayerKind::conv) continue;
    const double gemm = 2.0 * l.T * l.d * l.p;
    f += gemm * (first ? 1 : 2) + (plan.loop || l.method == GradMethod::materialize ? gemm : 0);
    first = false;
  }
  return f * static_cast<double>(n);
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i)
    if (name == argv[i]) return argv[i + 1];
  return dflt;
}

}  // namespace

int run_bench(int argc, char** argv) {
  MpiComm world(MPI_COMM_WORLD);
  // The device under test and its communicator (NCCL on GPUs), as in a job.
  RankDevice dev = open_device(world, arg(argc, argv, "--device", "cpu"), 600);
  Communicator& comm = dev.comm(world);
  const torch::Device device = dev.choice.device;
  const int P = comm.size(), r = comm.rank();
  Config c;
  c.model = parse_choice<Model>(arg(argc, argv, "--model", "mlp"), "model");
  const int64_t N = std::stoll(arg(argc, argv, "--n", "1000"));
  const std::string method = arg(argc, argv, "--method", "auto");
  const bool warmup = arg(argc, argv, "--warmup", "1") == "1";
  const int repeat = std::max(1, std::stoi(arg(argc, argv, "--repeat", "1")));
  const double mem_budget_gb = std::stod(arg(argc, argv, "--mem-gb", "8"));
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int threads = std::max(1, cores / std::max(1, node_local_size(world.get())));
  torch::set_num_threads(threads);
  set_blas_threads(threads);

  // ResNet20 on CIFAR-sized inputs, the MLP and CNN on Fashion-MNIST-sized ones.
  const bool cifar = c.model == Model::resnet20;
  const int64_t C = cifar ? 3 : 1, H = cifar ? 32 : 28;
  torch::manual_seed(0);
  Net net = build_model(c, C, H, H, 10);
  net->to(device);
  const int64_t D = net->num_params();
  const std::string arch = describe_model(net, c, C * H * H);
  const auto example = torch::zeros({C, H, H}, torch::TensorOptions().device(device));
  const Range mine = block_range(N, P, r);
  const int64_t n_max = block_range(N, P, 0).size();

  // Methods that hold per-example rows need n x D floats twice per rank
  // (own block and the travelling one); skip them when that exceeds the budget.
  auto plan = plan_gradients(net, example, N, method);
  double row_floats = 0;
  if (plan.loop) row_floats = static_cast<double>(D);
  for (const auto& l : plan.layers)
    row_floats += l.method == GradMethod::materialize ? l.row_width : l.T * (l.d + l.p);
  const double need_gb = (2.0 * n_max * row_floats * 4 + 8.0 * n_max * N) / 1e9;
  // And skip methods whose Gram alone would take far too long (e.g. the
  // factor form of a 28 x 28 convolution: (N T)^2 (d + p) multiply-adds).
  const double need_tflop = gram_flops(plan, N, N, D) / 2 / 1e12;
  const double max_tflop = std::stod(arg(argc, argv, "--max-tflop", "3"));
  const double gemm = sgemm_gflops(device);
  double gemm_total = gemm;
  comm.allreduce_sum(&gemm_total, 1, DType::f64);
  if (need_gb > mem_budget_gb || need_tflop > max_tflop) {
    if (r == 0)
      std::printf("{\"model\":\"%s\",\"arch\":\"%s\",\"N\":%lld,\"ranks\":%d,\"method\":\"%s\","
                  "\"skipped\":\"needs about %.1f GB per rank (budget %.1f GB) and %.3g TFLOP for the "
                  "Gram (budget %.3g)\"}\n",
                  to_string(c.model).c_str(), arch.c_str(), static_cast<long long>(N), P, method.c_str(), need_gb,
                  mem_budget_gb, need_tflop, max_tflop);
    return 0;
  }

  auto x = torch::randn({mine.size(), C, H, H}, torch::TensorOptions().device(device));
  auto y = torch::randint(10, {mine.size()}, torch::TensorOptions(torch::kInt64).device(device));
  // Warm-up, untimed: the same method on up to 256 of this rank's examples
  // (OpenMP and BLAS thread pools, oneDNN primitives, the allocator's heap),
  // as in a job, where every measurement after the first runs warm.
  if (warmup) {
    const int64_t w = std::min<int64_t>(x.size(0), 256);
    auto blk = compute_block(net, plan, x.slice(0, 0, w), y.slice(0, 0, w));
    gram_tile(plan, blk, blk, true);
    sync(device);
  }
  // Best of --repeat timed runs, the same protocol for every method: single
  // runs of one case vary on a shared machine (docs/benchmarks.md).
  double seconds = 1e300, grad_seconds = 0;
  RingResult ring;
  for (int rep = 0; rep < repeat; ++rep) {
    comm.barrier();
    const double t0 = now();
    auto blk = compute_block(net, plan, x, y);
    sync(device);
    double g = now() - t0;
    comm.allreduce_max(&g, 1, DType::f64);
    auto result = ring_gram(comm, plan, blk, N);
    sync(device);
    comm.barrier();
    double t = now() - t0;
    comm.allreduce_max(&t, 1, DType::f64);
    if (t < seconds) seconds = t, grad_seconds = g;
    ring = std::move(result);
  }

  // Achieved rate of the Gram GEMMs over all ranks' tiles (a diagonal tile
// computes only its upper half).
  double flops = 0;
  for (const auto& t : ring.tiles)
    flops += gram_flops(plan, t.rows.size(), t.cols.size(), D) * (t.mirrored ? 1.0 : 0.5);
  comm.allreduce_sum(&flops, 1, DType::f64);
  // The floor: the gradient pass's and the Gram's FLOPs over all ranks at
  // the summed SGEMM rate of the ranks, as if every GEMM-like step ran at it.
  const double gflop_grad = grad_flops(net, example, plan, N) / 1e9, gflop_gram = flops / 1e9;
  const double floor_s = (gflop_grad + gflop_gram) / gemm_total;

  // Exactness: a sub-block of this rank's diagonal tile against the loop.
  double rel = 0;
  const int64_t m = std::min<int64_t>(mine.size(), 64);
  if (m > 0) {
    auto G = per_example_gradients_loop(net, x.slice(0, 0, m), y.slice(0, 0, m));
    auto ref = torch::mm(G, G.t()).to(torch::kFloat64);
    auto got = ring.tiles.front().k.slice(0, 0, m).slice(1, 0, m).to(ref.device());
    rel = ((got - ref).abs().max() / ref.abs().max()).item<double>();
  }
  comm.allreduce_max(&rel, 1, DType::f64);
  double rss = peak_rss_mb(), dev_mb = device.is_cuda() ? gpu_memory_used_mb() : -1;
  comm.allreduce_max(&rss, 1, DType::f64);
  comm.allreduce_max(&dev_mb, 1, DType::f64);
  // Ring traffic per second of the ring phase (transfers overlap the tiles).
  double ring_s = ring.compute_seconds + ring.wait_seconds, bytes = static_cast<double>(ring.bytes_sent);
  comm.allreduce_max(&ring_s, 1, DType::f64);
  comm.allreduce_sum(&bytes, 1, DType::f64);
  const double pairs = 0.5 * static_cast<double>(N) * static_cast<double>(N + 1);
  if (r == 0)
    std::printf(
        "{\"model\":\"%s\",\"arch\":\"%s\",\"N\":%lld,\"ranks\":%d,\"device\":\"%s\",\"threads_per_rank\":%d,"
        "\"method\":\"%s\",\"repeat\":%d,\"seconds\":%.4f,\"grad_seconds\":%.4f,\"pairs_per_s\":%.4g,\"gflops\":%.2f,"
        "\"gram_tflops\":%.4f,\"sgemm_gflops\":%.2f,\"peak_rss_mb\":%.1f,\"device_used_mb\":%.1f,"
        "\"grad_gflop\":%.3f,\"grad_gflops\":%.2f,\"gram_gflop\":%.3f,\"floor_seconds\":%.4f,\"vs_floor\":%.2f,"
        "\"rel_err_vs_loop\":%.3g,\"bytes_sent\":%lld,\"ring_gbps\":%.3f,"
        "\"blas_core\":\"%s\",\"plan\":\"%s\"}\n",
        to_string(c.model).c_str(), arch.c_str(), static_cast<long long>(N), P, device.str().c_str(), threads, method.c_str(),
        repeat, seconds, grad_seconds, pairs / seconds, flops / seconds / 1e9, flops / seconds / 1e12, gemm_total,
        rss, dev_mb, gflop_grad, grad_seconds > 0 ? gflop_grad / grad_seconds : 0.0, gflop_gram, floor_s,
        seconds / floor_s, rel, static_cast<long long>(bytes), ring_s > 0 ? bytes / ring_s / 1e9 : 0.0,
        openblas_core().c_str(), plan.loop ? "loop" : [&] {
          std::string s;
          for (const auto& l : plan.layers) s += (s.empty() ? "" : ",") + l.name + ":" + method_name(l.method);
          return s;
        }().c_str());
  return 0;
}

int main(int argc, char** argv) {
  ensure_openblas_kernels(argv);
  MpiSession mpi(&argc, &argv);
  try {
    return run_bench(argc, argv);
  } catch (const ReportedError& e) {  // reported once, on every rank (e.g. --device cuda without a GPU)
    return e.code;
  }
}
