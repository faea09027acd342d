#include "stiffness/nn/panel_sinks.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace stiffness {

// ------------------------------------------------------------ statistics

StatisticsSink::StatisticsSink(const Sample& sample, int64_t num_classes, int distance_bins,
                               const std::vector<double>& diag, torch::Device device)
    : sample_(sample),
      diag_(diag),
      bins_(distance_bins),
      coarse_(sample.num_coarse > 0),
      acc_(sample.class_index, sample.split, num_classes, distance_bins),
      coarse_acc_(coarse_ ? sample.coarse : sample.class_index, sample.split, coarse_ ? sample.num_coarse : 1) {
  if (device.is_cpu()) return;
  dev_ = std::make_unique<TileStatistics>(sample.class_index, sample.split, num_classes, distance_bins, device);
  if (coarse_)
    dev_coarse_ = std::make_unique<TileStatistics>(sample.coarse, sample.split, sample.num_coarse, 0, device);
  dev_diag_ = torch::tensor(diag_, torch::kFloat64).to(device);
}

void StatisticsSink::round(const std::vector<GramTile>& pieces) {
  for (const auto& p : pieces) add(p);
}

void StatisticsSink::add(const GramTile& p) {
  torch::Tensor dist;
  if (bins_ > 0) dist = input_distance(sample_, p.rows.begin, p.rows.end, p.cols.begin, p.cols.end);
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

StiffnessResults StatisticsSink::reduce(Communicator& comm) {
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

// ------------------------------------------------------------ K writer

void KWriterSink::round(const std::vector<GramTile>& pieces) {
  std::vector<h5::Block2D> blocks;
  std::vector<torch::Tensor> keep;  // host copies must outlive the write
  auto block = [](Range rows, Range cols, const torch::Tensor& data) {
    return h5::Block2D{static_cast<hsize_t>(rows.begin), static_cast<hsize_t>(cols.begin),
                       static_cast<hsize_t>(rows.size()), static_cast<hsize_t>(cols.size()), data.data_ptr()};
  };
  for (const auto& p : pieces) {
    keep.push_back(p.k.to(torch::kCPU, type_));
    blocks.push_back(block(p.rows, p.cols, keep.back()));
    if (p.mirrored) {  // the transpose of this panel only, never of a whole tile
      keep.push_back(keep.back().t().contiguous());
      blocks.push_back(block(p.cols, p.rows, keep.back()));
    }
  }
  // The ranks meet here anyway (the write is collective): meeting first
  // keeps a slower rank's arithmetic out of the write's time.
  comm_.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  bytes_ += static_cast<double>(out_.write_k(blocks));
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ------------------------------------------------------------ rate meter

RateMeter::RateMeter(const GradPlan& plan, int64_t num_params, int64_t panels, double progress_seconds,
                     double panel_mb)
    : plan_(plan), num_params_(num_params), panel_mb_(panel_mb), progress_("panels", panels, progress_seconds) {}

void RateMeter::round(const std::vector<GramTile>& pieces) {
  if (pieces.empty()) return;
  // A square on the diagonal is symmetric: half of it is computed.
  for (const auto& p : pieces)
    flops_ += gram_flops(plan_, p.rows.size(), p.cols.size(), num_params_) * (p.mirrored ? 1.0 : 0.5);
  progress_.update(++done_, fmt::format("{:.0f} MB panels", panel_mb_));
}

}  // namespace stiffness
