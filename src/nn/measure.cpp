#include "stiffness/nn/measure.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/runtime/progress.hpp"
#include "stiffness/runtime/provenance.hpp"
#include "stiffness/analysis/schedule.hpp"
#include "stiffness/nn/ring.hpp"
#include "stiffness/nn/tile_stats.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace stiffness {

Sample make_sample(const Config& c, const ImageSet& train, const ImageSet& val, int64_t n_train,
                   int64_t n_val, torch::Dtype dtype) {
  Sample s;
  const bool coarse = !train.coarse_labels.empty() && !val.coarse_labels.empty();
  // The super-class of each class (from the training labels), and the order
  // of the classes in the stored matrices: grouped by super-class.
  std::vector<int64_t> coarse_of(c.num_classes, 0);
  if (coarse)
    for (int64_t i = train.n - 1; i >= 0; --i) coarse_of[train.labels[i]] = train.coarse_labels[i];
  s.num_coarse = coarse ? train.num_coarse : 0;
  for (int64_t k = 0; k < c.num_classes; ++k) s.class_order.push_back(k);
  std::stable_sort(s.class_order.begin(), s.class_order.end(),
                   [&](int64_t a, int64_t b) { return coarse_of[a] < coarse_of[b]; });
  std::vector<int64_t> row_of(c.num_classes);
  for (int64_t r = 0; r < c.num_classes; ++r) row_of[s.class_order[r]] = r;

  std::vector<torch::Tensor> xs;
  auto add = [&](const ImageSet& set, int64_t n_used, int64_t per_class, uint64_t seed, Split split,
                 const std::string& what) {
    std::vector<int64_t> labels(set.labels.begin(), set.labels.begin() + n_used);
    auto idx = sample_per_class(labels, c.num_classes, per_class, seed, what);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int64_t a, int64_t b) { return row_of[set.labels[a]] < row_of[set.labels[b]]; });
    const int64_t d = set.example_size();
    auto x = torch::empty({static_cast<int64_t>(idx.size()), set.channels, set.height, set.width},
                          torch::kFloat32);
    for (size_t k = 0; k < idx.size(); ++k) {
      std::memcpy(x[k].data_ptr<float>(), set.pixels.data() + idx[k] * d, d * sizeof(float));
      s.index.push_back(idx[k]);
      s.label.push_back(set.labels[idx[k]]);
      s.class_index.push_back(row_of[set.labels[idx[k]]]);
      if (coarse) s.coarse.push_back(set.coarse_labels[idx[k]]);
      s.split.push_back(split);
    }
    xs.push_back(x);
  };
  // Different seeds for the two parts so that equal index lists are not chosen.
  add(train, n_train, c.per_class, c.sample_seed, Split::train, "train set");
  add(val, n_val, c.val_per_class, c.sample_seed + 7919, Split::val, "validation set");
  s.x = torch::cat(xs).to(dtype);
  xs.clear();
  s.y = torch::tensor(s.label, torch::kInt64);
  // Standardise each input (zero mean, unit variance) and scale it to unit
  // norm; the variance step cancels in the norm, leaving centre + normalise.
  // In place: one float64 copy of the inputs (627 MB at N = 100000 on 28 x 28).
  // (copy = true: a float64 sample must not be centred itself.)
  auto flat = s.x.to(torch::kFloat64, /*non_blocking=*/false, /*copy=*/true).flatten(1);
  flat.sub_(flat.mean(1, true));
  flat.div_(flat.norm(2, 1, true).clamp_min(1e-300));
  s.unit = flat;
  return s;
}

void move_to(Sample& s, torch::Device device) {
  s.x = s.x.to(device);
  s.y = s.y.to(device);
  s.unit = s.unit.to(device);
}

SampleArrays sample_arrays(const Sample& s) {
  SampleArrays a;
  a.index = s.index;
  a.label = s.label;
  a.coarse = s.coarse;
  a.class_order = s.class_order;
  for (auto sp : s.split) a.split.push_back(static_cast<uint8_t>(sp));
  auto x = s.x.to(torch::kCPU, torch::kFloat32).contiguous();
  // A CPU float32 sample is written from where it is (314 MB at N = 100000);
  // otherwise from a host copy.
  if (x.is_same(s.x))
    a.input_data = x.data_ptr<float>();
  else
    a.inputs.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  for (auto d : x.sizes()) a.input_shape.push_back(static_cast<hsize_t>(d));
  return a;
}

torch::Tensor input_distance(const Sample& s, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  // In place: one rows x cols buffer (a panel's worth), not two.
  return torch::mm(s.unit.slice(0, r0, r1), s.unit.slice(0, c0, c1).t()).neg_().add_(1.0);
}

namespace {

// Class and distance sums of the panels, where the panels are: on a GPU by
// torch ops (TileStatistics; only the sums come to the host), on the CPU by
// the host loop, which is ~20x faster there than the same torch ops (2000 x
// 2000 mirrored tile, 1 thread: 0.11 s against 2.4 s).
class PanelStatistics {
 public:
  PanelStatistics(const MeasureContext& ctx, const std::vector<double>& diag, torch::Device device)
      : ctx_(ctx),
        diag_(diag),
        coarse_(ctx.sample.num_coarse > 0),
        acc_(ctx.sample.class_index, ctx.sample.split, ctx.c.num_classes, static_cast<int>(ctx.c.distance_bins)),
        coarse_acc_(coarse_ ? ctx.sample.coarse : ctx.sample.class_index, ctx.sample.split,
                    coarse_ ? ctx.sample.num_coarse : 1) {
    if (device.is_cpu()) return;
    dev_ = std::make_unique<TileStatistics>(ctx.sample.class_index, ctx.sample.split, ctx.c.num_classes,
                                            static_cast<int>(ctx.c.distance_bins), device);
    if (coarse_)
      dev_coarse_ = std::make_unique<TileStatistics>(ctx.sample.coarse, ctx.sample.split, ctx.sample.num_coarse, 0,
                                                     device);
    dev_diag_ = torch::tensor(diag_, torch::kFloat64).to(device);
  }

  void add(const GramTile& p) {
    torch::Tensor dist;
    if (ctx_.c.distance_bins > 0)
      dist = input_distance(ctx_.sample, p.rows.begin, p.rows.end, p.cols.begin, p.cols.end);
    if (dev_) {
      dev_->add(p.rows.begin, p.cols.begin, p.k, dev_diag_, p.mirrored, dist);
      if (dev_coarse_) dev_coarse_->add(p.rows.begin, p.cols.begin, p.k, dev_diag_, p.mirrored);
      return;
    }
    const int64_t rows = p.rows.size(), cols = p.cols.size();
    acc_.add_tile(p.rows.begin, p.cols.begin, rows, cols, p.k.data_ptr<double>(), diag_, p.mirrored,
                  dist.defined() ? dist.data_ptr<double>() : nullptr);
    if (coarse_) coarse_acc_.add_tile(p.rows.begin, p.cols.begin, rows, cols, p.k.data_ptr<double>(), diag_, p.mirrored);
  }

  // Collective: the sums over ranks, as results.
  StiffnessResults reduce(Communicator& comm) {
    if (dev_) acc_.add_sums(dev_->sums());
    if (dev_coarse_) coarse_acc_.add_sums(dev_coarse_->sums());
    StiffnessResults r;
    r.classes = acc_.reduce(comm);
    r.distance = acc_.reduce_distance(comm);
    if (coarse_) {
      r.has_coarse = true;
      r.coarse = coarse_acc_.reduce(comm);
    }
    return r;
  }

 private:
  const MeasureContext& ctx_;
  const std::vector<double>& diag_;
  const bool coarse_;
  // Class matrices are indexed by class_index (grouped by super-class).
  ClassStiffnessAccumulator acc_, coarse_acc_;
  std::unique_ptr<TileStatistics> dev_, dev_coarse_;
  torch::Tensor dev_diag_;
};

}  // namespace

MeasureSummary measure(const MeasureContext& ctx, int64_t step, double epoch, OutputFile& out) {
  const auto t0 = std::chrono::steady_clock::now();
  Communicator& comm = ctx.comm;
  const int64_t N = ctx.sample.size();
  const Range mine = block_range(N, comm.size(), comm.rank());

  // 1. This rank's slice of the sample in gradient form (factors or rows),
  // and every example's |g_i|^2, which each panel's cosines need.
  // The block is packed into the one buffer the ring sends, and used as
  // views of it: the rank holds it once (520 MB for the MLP's 50000 examples).
  torch::Tensor packed;
  GradBlock blk;
  {
    auto computed = compute_block(ctx.net, ctx.plan, ctx.sample.x.slice(0, mine.begin, mine.end),
                                  ctx.sample.y.slice(0, mine.begin, mine.end));
    packed = pack(computed);
    blk = unpack(packed, computed.n, part_shapes(computed));
  }
  const auto diag = gram_diagonal_all(comm, ctx.plan, blk, N);
  const auto device = ctx.sample.x.device();

  // 2. K is written only at the measurements --store-k selects, in --k-dtype.
  const bool store = stores_k(ctx.c.store_k, step, ctx.last_measured, N);
  const auto k_type = ctx.c.k_dtype == Precision::float32 ? torch::kFloat32 : torch::kFloat64;
  const int64_t k_size = static_cast<int64_t>(dtype_size(element_type(ctx.c.k_dtype)));
  out.begin_measurement(N, store, k_type == torch::kFloat32 ? DType::f32 : DType::f64);

  // 3. The ring, panel by panel: each panel is computed, summed into the
  // statistics and written (every rank joins every write round), then freed.
  // Per entry a panel costs K in float64, its input distances, and when
  // stored its host copy in --k-dtype and that copy's transpose.
  const int64_t bytes_per_entry = 8 + (ctx.c.distance_bins > 0 ? 8 : 0) + (store ? 2 * k_size : 0);
  const int64_t budget = std::max<int64_t>(1, static_cast<int64_t>(ctx.panel_mb * 1024 * 1024) / bytes_per_entry);
  PanelStatistics stats(ctx, diag, device);
  int64_t my_panels = 0;
  for (const auto& t : ring_tiles(N, comm.size(), comm.rank()))
    my_panels += static_cast<int64_t>(tile_panels(t, budget).size());
  Progress progress("panels", my_panels, ctx.c.progress_seconds);
  int64_t done = 0;
  double write_seconds = 0, written = 0, flops = 0;
  const int64_t num_params = ctx.net->num_params();
  auto sink = [&](const std::vector<GramTile>& pieces) {
    std::vector<h5::Block2D> blocks;
    std::vector<torch::Tensor> keep;  // host copies must outlive the write
    for (const auto& p : pieces) {
      // A square on the diagonal is symmetric: half of it is computed.
      flops += gram_flops(ctx.plan, p.rows.size(), p.cols.size(), num_params) * (p.mirrored ? 1.0 : 0.5);
      stats.add(p);
      if (!store) continue;
      // K reaches the host only to be written (no copy on a CPU rank in
      // float64; a GPU rank converts before the transfer).
      keep.push_back(p.k.to(torch::kCPU, k_type));
      blocks.push_back({static_cast<hsize_t>(p.rows.begin), static_cast<hsize_t>(p.cols.begin),
                        static_cast<hsize_t>(p.rows.size()), static_cast<hsize_t>(p.cols.size()),
                        keep.back().data_ptr()});
      if (p.mirrored) {  // the transpose of this panel only, never of a whole tile
        keep.push_back(keep.back().t().contiguous());
        blocks.push_back({static_cast<hsize_t>(p.cols.begin), static_cast<hsize_t>(p.rows.begin),
                          static_cast<hsize_t>(p.cols.size()), static_cast<hsize_t>(p.rows.size()),
                          keep.back().data_ptr()});
      }
    }
    if (store) {
      // The ranks meet here anyway (the write is collective): meeting first
      // keeps a slower rank's arithmetic out of the write's time.
      comm.barrier();
      const auto tw = std::chrono::steady_clock::now();
      written += static_cast<double>(out.write_k(blocks));
      write_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - tw).count();
    }
    if (!pieces.empty()) progress.update(++done, fmt::format("{:.0f} MB panels", ctx.panel_mb));
  };
  const RingStats ring = ring_panels(comm, ctx.plan, blk, N, budget, sink, packed);
  blk = GradBlock{};
  packed = torch::Tensor();
  MeasureSummary sum;
  sum.results = stats.reduce(comm);

  // 4. Losses and accuracies at this point of training.
  const auto tr = evaluate(ctx.net, ctx.train, ctx.c.eval_examples, comm);
  const auto va = evaluate(ctx.net, ctx.val, ctx.c.eval_examples, comm);

  // 5. Parameters by name, so anyone can recompute any entry of K.
  std::vector<torch::Tensor> param_store;
  std::vector<NamedArray> params;
  if (ctx.c.save_params) {
    for (const auto& p : ctx.net->named_parameters()) {
      param_store.push_back(p.value().detach().to(torch::kCPU).contiguous());
      const auto& t = param_store.back();
      NamedArray a;
      a.name = p.key();
      for (auto d : t.sizes()) a.shape.push_back(static_cast<hsize_t>(d));
      a.data = t.data_ptr();
      a.type = t.scalar_type() == torch::kFloat64 ? DType::f64 : DType::f32;
      params.push_back(a);
    }
  }
  MeasurementInfo info;
  info.step = step;
  info.epoch = epoch;
  info.train_loss = tr.loss;
  info.train_accuracy = tr.accuracy;
  info.val_loss = va.loss;
  info.val_accuracy = va.accuracy;
  info.grad_plan = ctx.plan.summary();
  info.k_stored = store;
  info.k_type = k_type == torch::kFloat32 ? DType::f32 : DType::f64;
  // Memory high-water marks (process RSS; device memory on GPU ranks), the
  // largest over ranks, panels and writes included: what `--mem` must cover.
  double mem[2] = {peak_rss_mb(), device.is_cuda() ? gpu_memory_used_mb() : -1.0};
  comm.allreduce_max(mem, 2, DType::f64);
  info.peak_rss_mb = mem[0];
  info.device_memory_mb = mem[1];
  info.panel_mb = ctx.panel_mb;
  // The write rate: all ranks' bytes over the slowest rank's time in
  // writes; the Gram rate likewise over the slowest rank's arithmetic.
  double sums[2] = {written, flops}, slowest[2] = {write_seconds, ring.compute_seconds};
  comm.allreduce_sum(sums, 2, DType::f64);
  comm.allreduce_max(slowest, 2, DType::f64);
  if (store) info.write_gbps = slowest[0] > 0 ? sums[0] / slowest[0] / 1e9 : 0;
  info.gram_gflops = slowest[1] > 0 ? sums[1] / slowest[1] / 1e9 : 0;
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.end_measurement(info, sum.results, params);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
                 to_string(ctx.c.k_dtype), static_cast<double>(N) * N * k_size / 1e9, ctx.panel_mb, info.write_gbps,
                 ctx.disk_gbps > 0 ? fmt::format("{:.3f} GB/s (measured at start)", ctx.disk_gbps)
                                   : std::string("not measured (K under 256 MB)"));
  return sum;
}

}  // namespace stiffness
