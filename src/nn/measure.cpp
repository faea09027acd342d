#include "stiffness/nn/measure.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "stiffness/analysis/schedule.hpp"
#include "stiffness/analysis/tiling.hpp"
#include "stiffness/nn/panel_sinks.hpp"
#include "stiffness/nn/ring.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/runtime/provenance.hpp"

namespace stiffness {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// This rank's slice of the sample in gradient form (factors or rows), packed
// into the one buffer the ring sends and used as views of it: the rank holds
// its block once.
struct PackedBlock {
  torch::Tensor packed;
  GradBlock blk;
};
PackedBlock gradient_block(const MeasureContext& ctx, Range mine) {
  auto computed = compute_block(ctx.net, ctx.plan, ctx.sample.x.slice(0, mine.begin, mine.end),
                                ctx.sample.y.slice(0, mine.begin, mine.end));
  PackedBlock b;
  b.packed = pack(computed);
  b.blk = unpack(b.packed, computed.n, part_shapes(computed));
  return b;
}

// Entries of K per panel: per entry a panel costs K in float64, its input
// distances, and when stored its host copy in the stored type and that
// copy's transpose.
int64_t panel_budget(const MeasureContext& ctx, bool store, int64_t k_size) {
  const int64_t bytes_per_entry = 8 + (ctx.c.distance_bins > 0 ? 8 : 0) + (store ? 2 * k_size : 0);
  return std::max<int64_t>(1, static_cast<int64_t>(ctx.panel_mb * 1024 * 1024) / bytes_per_entry);
}

// The parameters by name on the host, so anyone can recompute any entry of K.
// `store` keeps the host copies alive while the arrays point into them.
std::vector<NamedArray> named_parameters(Net& net, std::vector<torch::Tensor>& store) {
  std::vector<NamedArray> params;
  for (const auto& p : net->named_parameters()) {
    store.push_back(p.value().detach().to(torch::kCPU).contiguous());
    const auto& t = store.back();
    NamedArray a;
    a.name = p.key();
    for (auto d : t.sizes()) a.shape.push_back(static_cast<hsize_t>(d));
    a.data = t.data_ptr();
    a.type = t.scalar_type() == torch::kFloat64 ? DType::f64 : DType::f32;
    params.push_back(a);
  }
  return params;
}

}  // namespace

MeasureSummary measure(const MeasureContext& ctx, int64_t step, double epoch, OutputFile& out) {
  const auto t0 = std::chrono::steady_clock::now();
  Communicator& comm = ctx.comm;
  const int64_t N = ctx.sample.size();
  const Range mine = block_range(N, comm.size(), comm.rank());
  const auto device = ctx.sample.x.device();

  // 1. This rank's gradient block, and every example's |g_i|^2, which each
  // panel's cosines need before any panel is analysed.
  PackedBlock block = gradient_block(ctx, mine);
  const auto diag = gram_diagonal_all(comm, ctx.plan, block.blk, N);

  // 2. K is written only at the measurements --store-k selects, in --k-dtype.
  const bool store = stores_k(ctx.c.store_k, step, ctx.last_measured, N);
  const DType k_dtype = element_type(ctx.c.k_dtype);
  const auto k_type = k_dtype == DType::f32 ? torch::kFloat32 : torch::kFloat64;
  out.begin_measurement(N, store, k_dtype);

  // 3. The ring, panel by panel, through the sinks; then the panel is freed.
  const int64_t budget = panel_budget(ctx, store, static_cast<int64_t>(dtype_size(k_dtype)));
  int64_t my_panels = 0;
  for (const auto& t : ring_tiles(N, comm.size(), comm.rank()))
    my_panels += static_cast<int64_t>(tile_panels(t, budget).size());
  StatisticsSink stats(ctx.sample, ctx.c.num_classes, static_cast<int>(ctx.c.distance_bins), diag, device);
  std::optional<KWriterSink> writer;
  if (store) writer.emplace(comm, out, k_type);
  RateMeter meter(ctx.plan, ctx.net->num_params(), my_panels, ctx.c.progress_seconds, ctx.panel_mb);
  std::vector<PanelSink*> sinks{&stats};
  if (writer) sinks.push_back(&*writer);
  sinks.push_back(&meter);
  const RingStats ring = ring_panels(comm, ctx.plan, block.blk, N, budget, sinks, block.packed);
  block = PackedBlock{};
  MeasureSummary sum;
  sum.results = stats.reduce(comm);

  // 4. Losses and accuracies at this point of training.
  const auto tr = evaluate(ctx.net, ctx.train, ctx.c.eval_examples, comm);
  const auto va = evaluate(ctx.net, ctx.val, ctx.c.eval_examples, comm);

  // 5. The measurement's attributes, and the parameters.
  std::vector<torch::Tensor> param_store;
  const auto params = ctx.c.save_params ? named_parameters(ctx.net, param_store) : std::vector<NamedArray>{};
  MeasurementInfo info;
  info.step = step;
  info.epoch = epoch;
  info.train_loss = tr.loss;
  info.train_accuracy = tr.accuracy;
  info.val_loss = va.loss;
  info.val_accuracy = va.accuracy;
  info.grad_plan = ctx.plan.summary();
  info.k_stored = store;
  info.k_type = k_dtype;
  // Memory high-water marks (process RSS; device memory on GPU ranks), the
  // largest over ranks, panels and writes included: what `--mem` must cover.
  double mem[2] = {peak_rss_mb(), device.is_cuda() ? gpu_memory_used_mb() : -1.0};
  comm.allreduce_max(mem, 2, DType::f64);
  info.peak_rss_mb = mem[0];
  info.device_memory_mb = mem[1];
  info.panel_mb = ctx.panel_mb;
  // The write rate: all ranks' bytes over the slowest rank's time in
  // writes; the Gram rate likewise over the slowest rank's arithmetic.
  double sums[2] = {writer ? writer->bytes() : 0.0, meter.flops()};
  double slowest[2] = {writer ? writer->seconds() : 0.0, ring.compute_seconds};
  comm.allreduce_sum(sums, 2, DType::f64);
  comm.allreduce_max(slowest, 2, DType::f64);
  if (store) info.write_gbps = slowest[0] > 0 ? sums[0] / slowest[0] / 1e9 : 0;
  info.gram_gflops = slowest[1] > 0 ? sums[1] / slowest[1] / 1e9 : 0;
  info.seconds = seconds_since(t0);

  // 6. Into the file, and one log line.
  out.end_measurement(info, sum.results, params);
  sum.seconds = seconds_since(t0);
  const auto& tt = sum.results.classes[kTrainTrain];
  spdlog::info(
      "measured step {} (epoch {:.2f}) in {:.2f} s [Gram {:.2f} s at {:.1f} GFLOP/s, wait {:.2f} s, panels {:.2f} s]: "
      "train loss {:.4f} acc {:.3f}, val loss {:.4f} acc {:.3f}; train-train cosine "
      "within {:.4f} between {:.4f}, sign within {:.4f} between {:.4f}; xi {:.3f} ({}), half length {:.3f}; "
      "peak RSS {:.2f} GB/rank{}{}",
      step, epoch, sum.seconds, ring.compute_seconds, info.gram_gflops, ring.wait_seconds, ring.sink_seconds, tr.loss, tr.accuracy, va.loss,
      va.accuracy, tt.within_cosine, tt.between_cosine, tt.within_sign, tt.between_sign,
      sum.results.distance[kTrainTrain].xi_linear_cosine, sum.results.distance[kTrainTrain].xi_linear_cosine_status,
      sum.results.distance[kTrainTrain].half_length_cosine, info.peak_rss_mb / 1024,
      info.device_memory_mb >= 0 ? fmt::format(", GPU memory {:.2f} GB", info.device_memory_mb / 1024) : "",
      store ? "" : "; K not stored (--store-k " + to_string(ctx.c.store_k) + ")");
  if (store)
    spdlog::info("K ({}, {:.2f} GB) written in {} MB panels at {:.3f} GB/s; the disk's sequential rate: {}",
                 to_string(ctx.c.k_dtype), static_cast<double>(N) * N * dtype_size(k_dtype) / 1e9, ctx.panel_mb, info.write_gbps,
                 ctx.disk_gbps > 0 ? fmt::format("{:.3f} GB/s (measured at start)", ctx.disk_gbps)
                                   : std::string("not measured (K under 256 MB)"));
  return sum;
}

}  // namespace stiffness
